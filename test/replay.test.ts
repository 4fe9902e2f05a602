import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';

const FIXTURES = resolve(__dirname, 'fixtures/histories');

/** Every recorded history: a completed two-model batch, a cancelled one, a validation failure. */
function recorded(): { name: string; workflowId: string; history: ReturnType<typeof historyFromJSON> }[] {
  return readdirSync(FIXTURES).flatMap((scenario) =>
    readdirSync(join(FIXTURES, scenario)).map((file) => ({
      name: `${scenario}/${file}`,
      workflowId: `${scenario}-${file}`,
      history: historyFromJSON(JSON.parse(readFileSync(join(FIXTURES, scenario, file), 'utf8'))),
    })),
  );
}

describe('workflow determinism', () => {
  const histories = recorded();

  it('has recorded histories of parent and child workflows', () => {
    expect(histories.length).toBeGreaterThanOrEqual(5);
    expect(histories.some((h) => h.name.includes('model-'))).toBe(true);
  });

  // A change to workflow code that would break running batches fails here.
  it.each(histories.map((h) => [h.name, h] as const))('replays %s', async (_name, h) => {
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      h.history,
      h.workflowId,
    );
  });
});
