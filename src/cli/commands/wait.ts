// `batchgw wait ID`: follow a batch until it ends; the exit code says how it ended.
import { GLOBAL_HELP, parseCommandLine, secondsOption } from '../args';
import type { Command } from '../command';
import { DEFAULT_INTERVAL_MS, exitCodeOf, waitForBatch } from '../wait';

const OPTIONS = { interval: { type: 'string' } } as const;

export const wait: Command = {
  name: 'wait',
  summary: 'follow a batch with a live progress bar until it ends',
  help: `Usage: batchgw wait BATCH_ID [--interval SECONDS]

Shows completed/failed/total, the rate, the time left and the governance outcomes — a bar on a
terminal, a plain line per change otherwise — until the batch ends.

  --interval SECONDS poll interval (default 1)

Exit: 0 completed, 1 failed, expired or cancelled.

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('wait', argv, OPTIONS, ['BATCH_ID']);
    const intervalMs = secondsOption(values.interval, 'interval', 'wait', DEFAULT_INTERVAL_MS);
    const batch = await waitForBatch(ctx.connect(values), positionals[0], { intervalMs, out: ctx.stdout });
    return exitCodeOf(batch);
  },
};
