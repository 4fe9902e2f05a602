import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, createBatch, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// The caps are per worker process and hold across every batch and model it runs at once:
// at most GLOBAL_CONCURRENCY requests in flight in total, and MODEL_CONCURRENCY per model.
const GLOBAL = 10;
const PER_MODEL = 4;
const MODELS = ['m-a', 'm-b', 'm-c'];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { GLOBAL_CONCURRENCY: String(GLOBAL), MODEL_CONCURRENCY: String(PER_MODEL), SEGMENT_SIZE: '20' },
    { latencyMs: 30, jitterMs: 20 },
  );
});
afterAll(async () => stack?.close());

describe('concurrency caps across batches', () => {
  it('holds the global and per-model caps while several multi-model batches run at once', async () => {
    stack.sim.reset();
    const batches = await Promise.all(
      [0, 1, 2].map((b) =>
        createBatch(
          stack.openai,
          Array.from({ length: 150 }, (_, i) =>
            chatLine(`b${b}-${i}`, MODELS[(i + b) % 3], `batch ${b} item ${i}`),
          ),
        ),
      ),
    );
    const done = await Promise.all(batches.map((b) => waitForBatch(stack.openai, b.id)));
    for (const b of done) expect(b.request_counts).toEqual({ total: 150, completed: 150, failed: 0 });

    const stats = stack.sim.stats();
    expect(stats.maxInFlight).toBeLessThanOrEqual(GLOBAL);
    // Reached, so the test would see an implementation that lets more through.
    expect(stats.maxInFlight).toBe(GLOBAL);
    for (const model of MODELS) {
      expect(stats.byModel[model].maxInFlight).toBeLessThanOrEqual(PER_MODEL);
      expect(stats.byModel[model].maxInFlight).toBeGreaterThanOrEqual(PER_MODEL - 1);
    }
  });
});
