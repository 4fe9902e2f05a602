// Finalize's cache of parsed segments is bounded by bytes: large bodies cannot pile up in the heap.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentCache } from '../../src/activities/segment-cache';
import { formatEntry } from '../../src/records/journal';
import { formatSegmentLine } from '../../src/records/segment';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';

const root = mkdtempSync(join(tmpdir(), 'batchgw-segcache-'));
const store = new FsObjectStore(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };
const KiB = 1024;

/** Segments of model 0, each one request with a body of `bodyBytes` and a journaled answer as large. */
async function writeSegments(batchId: string, count: number, bodyBytes: number, tail = ''): Promise<void> {
  for (let s = 0; s < count; s++) {
    const body = JSON.stringify({ model: 'm', pad: 'x'.repeat(bodyBytes) + tail });
    await store.put(layout.segment('t', batchId, 0, s), formatSegmentLine(`r${s}`, body));
    const line = JSON.stringify({ custom_id: `r${s}`, pad: 'y'.repeat(bodyBytes) + tail });
    await store.put(
      layout.journal('t', batchId, 0, s),
      formatEntry('o', JSON.stringify(`r${s}`), ZERO, 's', line),
    );
  }
}

describe('finalize segment cache', () => {
  it('evicts the least recently used segments to stay within its byte budget', async () => {
    await writeSegments('b1', 10, 100 * KiB); // ~200 KiB per segment with its journal
    const cache = new SegmentCache(store, 't', 'b1', 0, 700 * KiB);
    for (let s = 0; s < 10; s++) {
      const seg = await cache.get(s);
      expect(seg.requests[0].customIdJson).toBe(`"r${s}"`);
      expect(seg.results.get(`"r${s}"`)?.kind).toBe('o');
      expect(cache.bytesHeld).toBeLessThanOrEqual(700 * KiB);
    }
    // Three ~200 KiB segments fit in 700 KiB: the last three, in use order.
    expect(cache.kept).toEqual([7, 8, 9]);
    await cache.get(7); // a hit refreshes it
    await cache.get(0); // a miss evicts the least recently used: 8
    expect(cache.kept).toEqual([9, 7, 0]);
  });

  it('returns a segment larger than the whole budget without keeping it', async () => {
    await writeSegments('b2', 2, 1024 * KiB);
    const cache = new SegmentCache(store, 't', 'b2', 0, 512 * KiB);
    const seg = await cache.get(0);
    expect(seg.requests).toHaveLength(1);
    expect(cache.kept).toEqual([]);
    expect(cache.bytesHeld).toBe(0);
  });

  it('keeps many small segments under the same budget (bytes, not a count)', async () => {
    await writeSegments('b3', 64, 1 * KiB);
    const cache = new SegmentCache(store, 't', 'b3', 0, 700 * KiB);
    for (let s = 0; s < 64; s++) await cache.get(s);
    expect(cache.kept).toHaveLength(64);
  });

  it('counts what the heap holds: two bytes a character once one is beyond Latin-1', async () => {
    // ~200 KiB of UTF-8 per segment either way; with one emoji the decoded strings take ~400 KiB.
    await writeSegments('b4', 1, 100 * KiB);
    await writeSegments('b5', 1, 100 * KiB, '😀');
    const ascii = new SegmentCache(store, 't', 'b4', 0, 300 * KiB);
    await ascii.get(0);
    expect(ascii.kept).toEqual([0]);
    expect(ascii.bytesHeld).toBeGreaterThan(200 * KiB);
    expect(ascii.bytesHeld).toBeLessThan(210 * KiB);

    const wide = new SegmentCache(store, 't', 'b5', 0, 1024 * KiB);
    const seg = await wide.get(0);
    const chars = seg.requests[0].body.length + (seg.results.get('"r0"')?.line.length ?? 0);
    expect(wide.bytesHeld).toBeGreaterThanOrEqual(2 * chars);
    const small = new SegmentCache(store, 't', 'b5', 0, 300 * KiB);
    await small.get(0);
    expect(small.kept).toEqual([]);
  });
});
