import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { batchEventSinks } from '../src/observability/batch-events-sink';
import { createLogger } from '../src/observability/logger';
import { tracingWorkerOptions } from '../src/observability/tracing-temporal';

const FIXTURES = resolve(__dirname, 'fixtures/histories');

/**
 * Every recorded history, by workflow code generation (v1: before the stop signal and the live
 * memo; v2: every path — rollover, cancel, expiry, budget, 401 halt, replay, validation failure,
 * a start from Temporal and one refused for bad input, a webhook delivered on its second attempt).
 * A generation stays here as long as batches started on that code may still be running.
 */
function recorded(): { name: string; workflowId: string; history: ReturnType<typeof historyFromJSON> }[] {
  const files = (dir: string): string[] =>
    readdirSync(join(FIXTURES, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory()
        ? files(join(dir, e.name))
        : e.name.endsWith('.history.json')
          ? [join(dir, e.name)]
          : [],
    );
  return files('').map((name) => ({
    name,
    workflowId: name.replace(/[/.]/g, '-'),
    history: historyFromJSON(JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))),
  }));
}

describe('workflow determinism', () => {
  const histories = recorded();

  it('has recorded histories of parent and child workflows', () => {
    expect(histories.length).toBeGreaterThanOrEqual(5);
    expect(histories.some((h) => h.name.includes('model-'))).toBe(true);
    // Every path of the current code, continue-as-new included.
    for (const path of [
      'completed-rollover',
      'cancelled-rollover',
      'expired',
      'budget-stop',
      'halted-401',
      'replay',
      'validation-failed',
      'many-models',
      'child-cancelled',
      'direct-start',
      'direct-start-invalid',
      'webhook-retried',
    ])
      expect(
        histories.some((h) => h.name.startsWith(`v2/${path}/`)),
        path,
      ).toBe(true);
    expect(histories.some((h) => h.name.includes('.run-2.'))).toBe(true);
  });

  // A change to workflow code that would break running batches fails here.
  it.each(histories.map((h) => [h.name, h] as const))('replays %s', async (_name, h) => {
    await Worker.runReplayHistory(
      // The sinks every worker registers (a replay calls none of them; unregistered, each call logs an error).
      {
        workflowBundle: { codePath: inject('workflowBundlePath') },
        sinks: { ...batchEventSinks(createLogger({ LOG_LEVEL: 'silent' })), ...tracingWorkerOptions().sinks },
      },
      h.history,
      h.workflowId,
    );
  });
});
