// The `--wait` / `--interval` flags shared by submit, replay and wait.
import type OpenAI from 'openai';
import { secondsOption } from '../args';
import type { CommandContext } from '../command';
import { ExitCode } from '../exit-codes';
import { DEFAULT_INTERVAL_MS, exitCodeOf, waitForBatch } from '../wait';

export const WAIT_OPTIONS = {
  wait: { type: 'boolean' },
  interval: { type: 'string' },
} as const;

export const WAIT_HELP = `  --wait             follow the batch with a live progress bar until it ends
  --interval SECONDS poll interval while waiting (default 1)`;

/** The poll interval in ms when `--wait` was given, else null; checked before anything is created. */
export function waitIntervalOf(
  values: { wait?: boolean; interval?: string },
  command: string,
): number | null {
  const intervalMs = secondsOption(values.interval, 'interval', command, DEFAULT_INTERVAL_MS);
  return values.wait ? intervalMs : null;
}

/** Follows the batch when asked (exit code of its final status), else answers 0 at once. */
export async function followIfAsked(
  client: OpenAI,
  batchId: string,
  intervalMs: number | null,
  ctx: CommandContext,
): Promise<ExitCode> {
  if (intervalMs === null) return ExitCode.ok;
  return exitCodeOf(await waitForBatch(client, batchId, { intervalMs, out: ctx.stdout }));
}
