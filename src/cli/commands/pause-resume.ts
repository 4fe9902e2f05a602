// `batchgw pause ID` / `batchgw resume ID`: hold a batch (no new requests start) and let it go on.
import { GLOBAL_HELP, parseCommandLine } from '../args';
import { timeOf, type GatewayBatch } from '../batch-view';
import { batchPath, callExtension, ONCE } from '../client';
import type { Command } from '../command';
import { ExitCode } from '../exit-codes';

const OPTIONS = { json: { type: 'boolean' } } as const;

function holdCommand(name: 'pause' | 'resume', summary: string, about: string): Command {
  return {
    name,
    summary,
    help: `Usage: batchgw ${name} BATCH_ID [--json]

${about}

  --json             print the Batch object as JSON

${GLOBAL_HELP}`,

    async run(argv, ctx) {
      const { values, positionals } = parseCommandLine(name, argv, OPTIONS, ['BATCH_ID']);
      const [batchId] = positionals;
      const client = ctx.connect(values);
      const batch = await callExtension(client, batchId, name, () =>
        client.post<GatewayBatch>(batchPath(batchId, `/${name}`), { body: {}, ...ONCE }),
      );
      if (values.json) ctx.stdout.write(`${JSON.stringify(batch, null, 2)}\n`);
      else if (batch.x_paused_at != null)
        ctx.stdout.write(`${batch.id} ${batch.status}, paused since ${timeOf(batch.x_paused_at)}\n`);
      else ctx.stdout.write(`${batch.id} ${batch.status}, running\n`);
      return ExitCode.ok;
    },
  };
}

export const pause = holdCommand(
  'pause',
  'pause a batch: no new requests start, in-flight ones finish',
  `Pauses the batch: it starts no new request until resumed; requests in flight finish. The
completion window keeps running. Pausing a paused batch changes nothing; a finished batch: exit 2.`,
);

export const resume = holdCommand(
  'resume',
  'resume a paused batch',
  'Resumes a paused batch where it stopped. Resuming a running batch changes nothing.',
);
