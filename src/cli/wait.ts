// Polling a batch until it ends, drawing its progress; the exit code its final status means.
import { setTimeout as sleep } from 'node:timers/promises';
import type OpenAI from 'openai';
import { isTerminal, type GatewayBatch } from './batch-view';
import { ExitCode } from './exit-codes';
import { progressViewFor } from './progress';

export const DEFAULT_INTERVAL_MS = 1000;

export interface WaitOptions {
  intervalMs: number;
  /** Where progress goes (stdout): a bar when it is a terminal. */
  out: NodeJS.WriteStream;
}

/** Polls until the batch is terminal; Ctrl-C restores the terminal and exits 130. */
export async function waitForBatch(
  client: OpenAI,
  batchId: string,
  options: WaitOptions,
): Promise<GatewayBatch> {
  const view = progressViewFor(options.out);
  const onInterrupt = () => {
    view.stop();
    process.exit(ExitCode.interrupted);
  };
  process.once('SIGINT', onInterrupt);
  try {
    let batch = (await client.batches.retrieve(batchId)) as GatewayBatch;
    while (!isTerminal(batch)) {
      view.update(batch);
      await sleep(options.intervalMs);
      batch = await client.batches.retrieve(batchId);
    }
    view.finish(batch);
    return batch;
  } catch (err) {
    view.stop();
    throw err;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

/** 0 for `completed` (whatever its failed lines), 1 for `failed`, `expired`, `cancelled`. */
export function exitCodeOf(batch: GatewayBatch): ExitCode {
  return batch.status === 'completed' ? ExitCode.ok : ExitCode.batchUnsuccessful;
}
