import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, createBatch, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// When batches compete for the same upstream capacity, the one whose completion window ends
// first is served first: chunk requests wait for capacity ordered by their batch's deadline.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { COMPLETION_WINDOWS: '24h,1h', GLOBAL_CONCURRENCY: '4', MODEL_CONCURRENCY: '4', SEGMENT_SIZE: '500' },
    { latencyMs: 40 },
  );
});
afterAll(async () => stack?.close());

describe('deadline priority', () => {
  it('serves the batch with the earlier deadline first', async () => {
    const relaxed = await createBatch(
      stack.openai,
      Array.from({ length: 3000 }, (_, i) => chatLine(`a-${i}`, 'gpt-4o-mini', `relaxed ${i}`)),
      { completion_window: '24h' },
    );
    // Let the relaxed batch fill the capacity and queue its first chunks (500 requests each).
    await waitForBatch(stack.openai, relaxed.id, (b) => b.request_counts.completed >= 40);
    const urgent = await createBatch(
      stack.openai,
      Array.from({ length: 100 }, (_, i) => chatLine(`b-${i}`, 'gpt-4o-mini', `urgent ${i}`)),
      { completion_window: '1h' },
    );
    const relaxedAtStart = stack.sim.batch(relaxed.id).calls;
    const urgentAnswered = () => {
      const b = stack.sim.batch(urgent.id);
      return b.calls === 100 && b.inFlight === 0;
    };
    while (!urgentAnswered()) await new Promise((r) => setTimeout(r, 2));
    const relaxedAtEnd = stack.sim.batch(relaxed.id).calls;
    const urgentDone = await waitForBatch(stack.openai, urgent.id);
    expect(urgentDone.status).toBe('completed');
    expect(urgentDone.request_counts.completed).toBe(100);
    // From the urgent batch's creation to its last answer, the relaxed batch only gets capacity
    // while the urgent one is validated and started (~0.5 s at 100 requests/s). Served in arrival
    // order, the urgent requests would wait behind the relaxed chunks already running: ≥ 500 calls.
    expect(relaxedAtEnd - relaxedAtStart).toBeLessThan(150);
    await stack.openai.batches.cancel(relaxed.id);
    await waitForBatch(stack.openai, relaxed.id);
  });
});
