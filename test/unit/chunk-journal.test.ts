// A chunk skips requests whose body repeats an earlier request's (answered from it at finalize),
// once the bodies are confirmed equal — reading each segment holding originals once, and keeping
// none of them: an original segment can be hundreds of MiB, per chunk in flight. Real filesystem store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { ChunkJournal } from '../../src/activities/chunk/chunk-journal';
import { formatEntry } from '../../src/records/journal';
import { formatSegmentLine } from '../../src/records/segment';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';
import type { ChunkInput } from '../../src/workflows/types';

/** The filesystem store, counting the reads of each key. */
class CountingStore extends FsObjectStore {
  readonly reads = new Map<string, number>();
  override async get(key: string): Promise<Buffer | null> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.get(key);
  }
}

const TENANT = 't-chunk';
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };
const MiB = 1024 * 1024;
const root = mkdtempSync(join(tmpdir(), 'batchgw-chunk-journal-'));
const store = new CountingStore(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const body = (n: number | string, pad = 0) => JSON.stringify({ model: 'm', n, pad: 'p'.repeat(pad) });
const chunkInput = (batchId: string, fromSegment: number, toSegment: number): ChunkInput => ({
  tenant: TENANT,
  batchId,
  endpoint: '/v1/chat/completions',
  modelIndex: 0,
  model: 'm',
  fromSegment,
  toSegment,
  deadline: 0,
});
const segmentKey = (batchId: string, s: number) => layout.segment(TENANT, batchId, 0, s);

describe('chunk journal and repeated bodies', () => {
  it('skips confirmed repeats (same segment, earlier segments), sends collisions, reads each original segment once', async () => {
    const b = 'batch_rep';
    // Segment 0 is before the chunk (another chunk's); the chunk is segments 1..3.
    await store.put(
      segmentKey(b, 0),
      formatSegmentLine('a0', body(0)) + formatSegmentLine('a1', body(1)) + formatSegmentLine('a2', body(2)),
    );
    await store.put(
      segmentKey(b, 1),
      formatSegmentLine('b0', body(10)) +
        formatSegmentLine('b1', body(0), { segment: 0, offset: 0 }) + // repeat of a0
        formatSegmentLine('b2', body(10), { segment: 1, offset: 0 }) + // repeat of b0, same segment
        formatSegmentLine('b3', body('collision'), { segment: 0, offset: 1 }), // hash collision: sent
    );
    await store.put(
      segmentKey(b, 2),
      formatSegmentLine('c0', body(2), { segment: 0, offset: 2 }) + // repeat of a2
        formatSegmentLine('c1', body(10), { segment: 1, offset: 0 }) + // repeat of b0, in the chunk
        formatSegmentLine('c2', body(20)),
    );
    await store.put(
      segmentKey(b, 3),
      formatSegmentLine('d0', body(1), { segment: 0, offset: 1 }) + // repeat of a1
        formatSegmentLine('d1', body('x'), { segment: 0, offset: 99 }), // names nothing: sent
    );
    // A journaled result is never sent again, repeat or not.
    await store.put(
      layout.journal(TENANT, b, 0, 3),
      formatEntry('o', JSON.stringify('d1'), ZERO, '', '{"custom_id":"d1"}'),
    );

    const journal = await ChunkJournal.load(store, chunkInput(b, 1, 4));
    expect(journal.jobs.map((j) => JSON.parse(j.req.customIdJson) as string)).toEqual(['b0', 'b3', 'c2']);
    expect(journal.jobs.map((j) => j.seg.index)).toEqual([1, 1, 2]);
    expect(store.reads.get(segmentKey(b, 0))).toBe(1);
    expect(store.reads.get(segmentKey(b, 1))).toBe(2); // as a chunk segment, then for its originals
    expect(store.reads.get(segmentKey(b, 2))).toBe(1);
    // Segment 3 has nothing left to send: done at once.
    expect(await store.get(layout.segmentDone(TENANT, b, 0, 3))).not.toBeNull();
    expect(await store.get(layout.segmentDone(TENANT, b, 0, 2))).toBeNull();
    expect(journal.complete()).toBe(false);
  });

  it('keeps no segment of originals once loaded, whatever its size', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const b = 'batch_big';
    // 48 MiB of originals before the chunk, of which the chunk repeats one small body.
    let originals = formatSegmentLine('a-small', body('small'));
    for (let i = 1; i <= 48; i++) originals += formatSegmentLine(`a${i}`, body(i, MiB));
    await store.put(segmentKey(b, 0), originals);
    originals = '';
    await store.put(
      segmentKey(b, 1),
      formatSegmentLine('b0', body('small'), { segment: 0, offset: 0 }) +
        formatSegmentLine('b1', body('new')),
    );

    gc();
    const before = process.memoryUsage().heapUsed;
    const journal = await ChunkJournal.load(store, chunkInput(b, 1, 2));
    gc();
    const held = process.memoryUsage().heapUsed - before;
    expect(journal.jobs.map((j) => j.req.customIdJson)).toEqual(['"b1"']);
    expect(held).toBeLessThan(8 * MiB);
  });
});
