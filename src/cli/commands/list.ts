// `batchgw list`: the newest batches, one line each, optionally of one status.
import { GLOBAL_HELP, integerOption, parseCommandLine } from '../args';
import { countsOf, statusLabel, timeOf, type GatewayBatch } from '../batch-view';
import type { Command } from '../command';
import { BATCH_STATUSES } from '../../domain/batch';
import { ExitCode, UsageError } from '../exit-codes';

const OPTIONS = {
  limit: { type: 'string' },
  status: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const STATUSES: readonly string[] = BATCH_STATUSES;

export const list: Command = {
  name: 'list',
  summary: 'list the newest batches',
  help: `Usage: batchgw list [--limit N] [--status S] [--json]

  --limit N          at most N batches (default 20)
  --status S         only batches with this status (${STATUSES.join(', ')})
  --json             one Batch object per line (JSONL)

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values } = parseCommandLine('list', argv, OPTIONS, []);
    const limit = integerOption(values.limit, 'limit', 'list', 20);
    const wanted = values.status;
    if (wanted !== undefined && !STATUSES.includes(wanted))
      throw new UsageError(`--status must be one of ${STATUSES.join(', ')}, not '${wanted}'`, 'list');
    const client = ctx.connect(values);
    const batches: GatewayBatch[] = [];
    // The Batch API lists without a status filter: read pages until enough match (auto-pagination).
    const pageSize = wanted ? 100 : Math.min(limit, 100);
    for await (const batch of client.batches.list({ limit: pageSize })) {
      if (!wanted || batch.status === wanted) batches.push(batch);
      if (batches.length >= limit) break;
    }
    if (values.json) {
      for (const b of batches) ctx.stdout.write(`${JSON.stringify(b)}\n`);
      return ExitCode.ok;
    }
    const rows = batches.map((b) => {
      const { total, done } = countsOf(b);
      return [b.id, statusLabel(b), `${done}/${total}`, timeOf(b.created_at), b.endpoint];
    });
    const header = ['ID', 'STATUS', 'DONE', 'CREATED (UTC)', 'ENDPOINT'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    for (const row of [header, ...rows])
      ctx.stdout.write(
        `${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]) : cell)).join('  ')}\n`,
      );
    return ExitCode.ok;
  },
};
