// `batchgw record ID CUSTOM_ID`: what happened to one request (GET /v1/batches/{id}/requests/{custom_id}).
import { RecordView, type RecordAttempt } from '../../domain/record-view';
import { GLOBAL_HELP, parseCommandLine } from '../args';
import { batchPath, callExtension } from '../client';
import type { Command } from '../command';
import { ExitCode } from '../exit-codes';

const OPTIONS = { json: { type: 'boolean' } } as const;

export const record: Command = {
  name: 'record',
  summary: 'show one request of a batch: its state, every attempt, its result line',
  help: `Usage: batchgw record BATCH_ID CUSTOM_ID [--json]

Shows the request with this custom_id: pending, in flight or done; each attempt's start, duration,
HTTP status or transport error and Retry-After; and its line in the output or error file.

  --json             print the batch.request object as JSON

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('record', argv, OPTIONS, ['BATCH_ID', 'CUSTOM_ID']);
    const [batchId, customId] = positionals;
    const client = ctx.connect(values);
    const answer = await callExtension(client, batchId, 'requests/{custom_id}', () =>
      client.get(batchPath(batchId, `/requests/${encodeURIComponent(customId)}`)),
    );
    const view = RecordView.parse(answer);
    ctx.stdout.write(
      values.json ? `${JSON.stringify(view, null, 2)}\n` : `${describeRecord(view).join('\n')}\n`,
    );
    return ExitCode.ok;
  },
};

function describeRecord(view: RecordView): string[] {
  const where = view.result_file ? `, in the ${view.result_file} file` : '';
  const lines = [
    `${view.custom_id}  (batch ${view.batch_id}, model ${view.model})`,
    `  state     ${view.state}${where}`,
  ];
  if (!view.attempts.length) lines.push('  attempts  none yet');
  else {
    const rows = view.attempts.map(attemptRow);
    const header = ['#', 'started (UTC)', 'took', 'status', 'retry-after'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [header, ...rows])
      lines.push(
        `  ${row
          .map((c, i) => c.padEnd(widths[i]))
          .join('  ')
          .trimEnd()}`,
      );
  }
  if (view.result) lines.push(`  result    ${JSON.stringify(view.result)}`);
  return lines;
}

function attemptRow(a: RecordAttempt): string[] {
  return [
    String(a.attempt),
    new Date(a.started_at_ms).toISOString().replace('T', ' ').replace('Z', ''),
    `${a.duration_ms} ms`,
    a.error ? `${a.error.code}: ${a.error.message}` : String(a.status_code ?? '-'),
    a.retry_after_ms === null ? '-' : `${a.retry_after_ms} ms`,
  ];
}
