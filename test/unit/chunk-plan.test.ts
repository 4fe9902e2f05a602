import { describe, expect, it } from 'vitest';
import { planChunks, type ShardSize } from '../../src/activities/ingest/chunk-plan';

const config = (
  over: Partial<{
    SEGMENT_SIZE: number;
    CHUNK_REQUESTS: number;
    GLOBAL_CONCURRENCY: number;
    MODEL_CONCURRENCY: number;
  }> = {},
) => ({
  SEGMENT_SIZE: 100,
  CHUNK_REQUESTS: 0,
  GLOBAL_CONCURRENCY: 200,
  MODEL_CONCURRENCY: 200,
  MODEL_CONCURRENCY_OVERRIDES: new Map<string, number>(),
  ...over,
});
const shard = (index: number, model: string, requests: number, segmentSize = 100): ShardSize => ({
  index,
  model,
  requests,
  segments: Math.ceil(requests / segmentSize),
});

describe('chunk plan', () => {
  it('gives a large batch chunks of about five rounds of its concurrency', () => {
    const plan = planChunks(config(), [shard(0, 'a', 10_000), shard(1, 'b', 10_000)], 1);
    // 5 × 200 requests = 10 segments of 100: 20 chunks instead of 200.
    expect(plan.segmentsPerChunk).toBe(10);
    // One chunk fills the concurrency; two more per worker cover chunk boundaries.
    expect(plan.models.map((m) => m.window)).toEqual([3, 3]);
  });

  it('keeps small batches in one-segment chunks, so their progress still moves in steps', () => {
    expect(planChunks(config(), [shard(0, 'a', 1_000)], 1).segmentsPerChunk).toBe(1);
    // 60 segments, at least 16 chunks for the one worker: 3 segments each.
    expect(planChunks(config(), [shard(0, 'a', 6_000)], 1).segmentsPerChunk).toBe(3);
  });

  it('gives every live worker at least 16 chunks', () => {
    const one = planChunks(config(), [shard(0, 'a', 20_000)], 1).segmentsPerChunk;
    const three = planChunks(config(), [shard(0, 'a', 20_000)], 3).segmentsPerChunk;
    expect(three).toBeLessThan(one);
    expect(Math.ceil(200 / three)).toBeGreaterThanOrEqual(16 * 3);
  });

  it('grows chunks with the concurrency, not past what the batch has', () => {
    const low = planChunks(
      config({ GLOBAL_CONCURRENCY: 20, MODEL_CONCURRENCY: 20 }),
      [shard(0, 'a', 50_000)],
      1,
    );
    expect(low.segmentsPerChunk).toBe(1); // 5 × 20 = 100 requests: one segment
    const high = planChunks(config(), [shard(0, 'a', 50_000)], 1);
    expect(high.segmentsPerChunk).toBe(10);
  });

  it('still holds at most ~1,000 chunks for a huge batch', () => {
    const plan = planChunks(
      config({ GLOBAL_CONCURRENCY: 10, MODEL_CONCURRENCY: 10 }),
      [shard(0, 'a', 2_000_000)],
      1,
    );
    expect(plan.segmentsPerChunk).toBe(20);
  });

  it('takes CHUNK_REQUESTS, in whole segments, when it is set', () => {
    expect(planChunks(config({ CHUNK_REQUESTS: 100 }), [shard(0, 'a', 20_000)], 1).segmentsPerChunk).toBe(1);
    expect(planChunks(config({ CHUNK_REQUESTS: 250 }), [shard(0, 'a', 20_000)], 1).segmentsPerChunk).toBe(3);
    // …never past ~1,000 chunks a batch.
    expect(planChunks(config({ CHUNK_REQUESTS: 1 }), [shard(0, 'a', 200_000)], 1).segmentsPerChunk).toBe(2);
  });

  it('counts in the segments ingest made, whatever their size', () => {
    // 20,000 requests in 64 segments of 313: chunks of 4 segments (about 1,250 requests).
    const plan = planChunks(config(), [{ index: 0, model: 'a', requests: 20_000, segments: 64 }], 1);
    expect(plan.segmentsPerChunk).toBe(4);
    expect(plan.models[0].window).toBe(3);
  });

  it('plans models named like Object.prototype members like any other', () => {
    const plan = planChunks(config(), [shard(0, 'constructor', 20_000), shard(1, '__proto__', 100)], 1);
    expect(plan.segmentsPerChunk).toBe(10);
    for (const m of plan.models) expect(Number.isInteger(m.window) && m.window > 0).toBe(true);
  });
});
