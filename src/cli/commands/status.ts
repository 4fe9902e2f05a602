// `batchgw status ID`: a readable summary of one batch, or its JSON.
import { GLOBAL_HELP, parseCommandLine } from '../args';
import { describeBatch, type GatewayBatch } from '../batch-view';
import type { Command } from '../command';
import { ExitCode } from '../exit-codes';

const OPTIONS = { json: { type: 'boolean' } } as const;

export const status: Command = {
  name: 'status',
  summary: 'show one batch: status, counts, governance outcomes, files',
  help: `Usage: batchgw status BATCH_ID [--json]

  --json             print the Batch object as JSON

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('status', argv, OPTIONS, ['BATCH_ID']);
    const batch = (await ctx.connect(values).batches.retrieve(positionals[0])) as GatewayBatch;
    ctx.stdout.write(
      values.json ? `${JSON.stringify(batch, null, 2)}\n` : `${describeBatch(batch).join('\n')}\n`,
    );
    return ExitCode.ok;
  },
};
