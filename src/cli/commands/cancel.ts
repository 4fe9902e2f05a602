// `batchgw cancel ID`: ask the batch to stop; it passes through `cancelling` to `cancelled`.
import { GLOBAL_HELP, parseCommandLine } from '../args';
import { statusLabel, type GatewayBatch } from '../batch-view';
import { ONCE } from '../client';
import type { Command } from '../command';
import { ExitCode } from '../exit-codes';

const OPTIONS = { json: { type: 'boolean' } } as const;

export const cancel: Command = {
  name: 'cancel',
  summary: 'cancel a batch (in-flight requests finish; the rest go to the error file)',
  help: `Usage: batchgw cancel BATCH_ID [--json]

Prints the batch id and its new status (cancelling). A process waiting on the batch exits 1.

  --json             print the Batch object as JSON

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('cancel', argv, OPTIONS, ['BATCH_ID']);
    const batch = (await ctx.connect(values).batches.cancel(positionals[0], ONCE)) as GatewayBatch;
    ctx.stdout.write(
      values.json ? `${JSON.stringify(batch, null, 2)}\n` : `${batch.id} ${statusLabel(batch)}\n`,
    );
    return ExitCode.ok;
  },
};
