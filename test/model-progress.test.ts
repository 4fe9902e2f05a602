import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import { chatLine, createBatch, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Per-model progress (`x_models`): null while validating, then one entry per model in input order,
// growing while the batch runs and, at the end, summing to request_counts.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ MODEL_CONCURRENCY: '4', SEGMENT_SIZE: '10' }, { latencyMs: 100 });
});
afterAll(async () => stack?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const get = async (id: string) => BatchSchema.parse(await stack.openai.batches.retrieve(id));

describe('x_models', () => {
  it('shows both models counting up and adds up to request_counts at the end', async () => {
    // 'constructor' as a model name: per-model state is keyed safely.
    const models = ['gpt-4o-mini', 'constructor'];
    const lines = Array.from({ length: 200 }, (_, i) =>
      chatLine(`mp-${i}`, models[i % 3 === 1 ? 1 : 0], `line ${i}${i % 25 === 0 ? ' #sim:400' : ''}`),
    );
    const created = await createBatch(stack.openai, lines);
    expect(created.x_models).toBeNull();

    // While it runs, each model's completed count grows, and never exceeds its total.
    const seen: Batch[] = [];
    for (;;) {
      const b = await get(created.id);
      if (b.x_models) seen.push(b);
      if (!['validating', 'in_progress'].includes(b.status)) break;
      await sleep(150);
    }
    const running = seen.filter((b) => b.status === 'in_progress');
    expect(running.length).toBeGreaterThan(2);
    for (const b of running) {
      expect(b.x_models!.map((m) => m.model)).toEqual(models);
      expect(b.x_models!.map((m) => m.request_counts.total)).toEqual([133, 67]);
      for (const m of b.x_models!)
        expect(m.request_counts.completed + m.request_counts.failed).toBeLessThanOrEqual(
          m.request_counts.total,
        );
      const sum = b.x_models!.reduce((n, m) => n + m.request_counts.completed + m.request_counts.failed, 0);
      expect(sum).toBeLessThanOrEqual(b.request_counts.completed + b.request_counts.failed);
    }
    for (const i of [0, 1]) {
      const progress = running.map((b) => b.x_models![i].request_counts.completed);
      expect(
        progress.some((c, k) => k > 0 && c > progress[k - 1]),
        `model ${models[i]} grew`,
      ).toBe(true);
    }

    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    const final = done.x_models!;
    expect(final.map((m) => m.model)).toEqual(models);
    const sum = (k: 'total' | 'completed' | 'failed') => final.reduce((n, m) => n + m.request_counts[k], 0);
    expect({ total: sum('total'), completed: sum('completed'), failed: sum('failed') }).toEqual(
      done.request_counts,
    );
    // Every 25th line is refused with a 400: 8 lines (25, 100 and 175 are 'constructor').
    expect(done.request_counts.failed).toBe(8);
    expect(final[1].request_counts.failed).toBe(3);
    expect(final[0].request_counts.failed).toBe(5);

    // The Web UI's summaries: each child names its model and request count, each chunk its range.
    const child = stack.client.workflow.getHandle(`${created.id}-model-1`);
    expect(await (await child.describe()).staticSummary()).toBe('constructor: 67 requests');
    const history = await child.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => Buffer.from(e.userMetadata!.summary!.data!).toString('utf8'));
    expect(summaries.length).toBeGreaterThan(0);
    expect(summaries[0]).toMatch(/^"constructor: segments 0–\d+ of 7"$/);
  });

  it('a cancelled batch: the per-model counts still sum to request_counts', async () => {
    const lines = Array.from({ length: 300 }, (_, i) =>
      chatLine(`mc-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}`),
    );
    const created = await createBatch(stack.openai, lines);
    for (;;) {
      if (stack.sim.batch(created.id).calls >= 20) break;
      await sleep(50);
    }
    await stack.openai.batches.cancel(created.id);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    const sum = (k: 'total' | 'completed' | 'failed') =>
      done.x_models!.reduce((n, m) => n + m.request_counts[k], 0);
    expect({ total: sum('total'), completed: sum('completed'), failed: sum('failed') }).toEqual(
      done.request_counts,
    );
    expect(done.x_models!.map((m) => m.request_counts.total)).toEqual([150, 150]);
  });
});
