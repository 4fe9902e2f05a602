// Finalize answers repeated bodies from their first request's result: a repeat of the segment being
// written is answered from that segment as read, never read again — even when the segment is not
// kept (FINALIZE_CACHE_BYTES=0 or a segment larger than the budget). Real filesystem store, real
// activity code, run in Temporal's own activity test environment.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalize } from '../../src/activities/finalize';
import { createActivityRuntime, type ActivityRuntime } from '../../src/activities/runtime';
import { loadConfig } from '../../src/config';
import { formatEntry } from '../../src/records/journal';
import { formatSegmentLine } from '../../src/records/segment';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';
import type { FinalizeInput, FinalizeResult } from '../../src/workflows/types';

const TENANT = 't-repeats';
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };

/** The filesystem store, counting the reads of each key. */
class CountingStore extends FsObjectStore {
  readonly reads = new Map<string, number>();
  override async get(key: string): Promise<Buffer | null> {
    this.reads.set(key, (this.reads.get(key) ?? 0) + 1);
    return super.get(key);
  }
}

let root: string;
let store: CountingStore;
let rt: ActivityRuntime;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'batchgw-repeats-'));
  store = new CountingStore(root);
  rt = createActivityRuntime(
    loadConfig({ DATA_DIR: root, FINALIZE_CACHE_BYTES: '0' }),
    store,
    'http://127.0.0.1:9',
  );
});
afterAll(async () => {
  await rt.gateway.close();
  rmSync(root, { recursive: true, force: true });
});

/**
 * Segments of model 0, each one original (offset 0, answered in the journal) and `repeats` requests
 * with the same body naming it.
 */
async function writeSegments(batchId: string, segments: number, repeats: number): Promise<void> {
  for (let s = 0; s < segments; s++) {
    const body = JSON.stringify({ model: 'm', n: s });
    let text = formatSegmentLine(`orig-${s}`, body);
    for (let i = 0; i < repeats; i++)
      text += formatSegmentLine(`rep-${s}-${i}`, body, { segment: s, offset: 0 });
    await store.put(layout.segment(TENANT, batchId, 0, s), text);
    const line = JSON.stringify({
      id: `req-${s}`,
      custom_id: `orig-${s}`,
      response: { status_code: 200, body: { n: s } },
      error: null,
      x_governance: { attempts: 1, cached: false },
    });
    await store.put(
      layout.journal(TENANT, batchId, 0, s),
      formatEntry('o', JSON.stringify(`orig-${s}`), { ...ZERO, input: 7 }, '', line),
    );
  }
}

const finalizeInput = (batchId: string, segments: number, requests: number): FinalizeInput => ({
  tenant: TENANT,
  batchId,
  models: [{ index: 0, segments, requests }],
  missingCode: 'batch_failed',
  outputTtlSeconds: null,
});

describe('finalize of repeated bodies', () => {
  it('answers repeats of the current segment from it, reading each segment once with no cache', async () => {
    const segments = 3;
    const repeats = 500;
    await writeSegments('batch_rep', segments, repeats);
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => heartbeats.push(d));
    const res: FinalizeResult = await env.run(
      finalize,
      rt,
      finalizeInput('batch_rep', segments, segments * (repeats + 1)),
    );

    expect(res).toMatchObject({ completed: segments * (repeats + 1), failed: 0, errorFileId: null });
    // Tokens were spent once per original, not per copy.
    expect(res.usage.input_tokens).toBe(7 * segments);
    for (let s = 0; s < segments; s++) {
      expect(store.reads.get(layout.segment(TENANT, 'batch_rep', 0, s))).toBe(1);
      expect(store.reads.get(layout.journal(TENANT, 'batch_rep', 0, s))).toBe(1);
    }
    if (!res.outputFileId) throw new Error('no output file');
    const out = (await store.get(layout.fileContent(TENANT, res.outputFileId)))!
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { custom_id: string; x_governance: { cached: boolean } });
    expect(out).toHaveLength(segments * (repeats + 1));
    expect(out.filter((l) => l.x_governance.cached)).toHaveLength(segments * repeats);
    expect(out[1]).toMatchObject({ custom_id: 'rep-0-0', response: { body: { n: 0 } } });
    // One heartbeat per segment: a long finalize stays within its heartbeat timeout.
    expect(heartbeats).toEqual(Array.from({ length: segments }, (_, s) => ({ model: 0, segment: s })));
  });
});
