// Deterministic failures end a batch instead of looping: a disk that refuses writes (STORAGE_UNWRITABLE)
// and stored data that no longer matches what ingest wrote (BATCH_DATA_INCONSISTENT), both
// non-retryable. Real filesystem (writes to /dev/full fail with ENOSPC), real activity code, run in
// Temporal's own activity test environment.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkJournal } from '../../src/activities/chunk/chunk-journal';
import { finalize } from '../../src/activities/finalize';
import { createActivityRuntime, type ActivityRuntime } from '../../src/activities/runtime';
import { loadConfig } from '../../src/config';
import { BATCH_DATA_INCONSISTENT, STORAGE_UNWRITABLE } from '../../src/domain/failures';
import { formatSegmentLine } from '../../src/records/segment';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';
import { derivedFileId } from '../../src/ids';
import type { FinalizeInput } from '../../src/workflows/types';

const TENANT = 't-storage';
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };

let root: string;
let rt: ActivityRuntime;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'batchgw-storage-'));
  // The gateway is never called here.
  rt = createActivityRuntime(loadConfig({ DATA_DIR: root }), new FsObjectStore(root), 'http://127.0.0.1:9');
});
afterAll(async () => {
  await rt.gateway.close();
  rmSync(root, { recursive: true, force: true });
});

/** Writes `perSegment` requests into each of `segments` segments of model 0, as ingest would. */
async function writeSegments(batchId: string, segments: number, perSegment: number): Promise<void> {
  for (let s = 0; s < segments; s++) {
    let text = '';
    for (let i = 0; i < perSegment; i++) text += formatSegmentLine(`r-${s}-${i}`, `{"model":"m","n":${i}}`);
    await rt.store.put(layout.segment(TENANT, batchId, 0, s), text);
  }
}

const finalizeInput = (batchId: string, segments: number, requests: number): FinalizeInput => ({
  tenant: TENANT,
  batchId,
  models: [{ index: 0, segments, requests }],
  missingCode: 'batch_failed',
  outputTtlSeconds: null,
});

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('finalize on inconsistent stored data', () => {
  it('writes both files when every segment is there (the control)', async () => {
    await writeSegments('batch_ok', 3, 4);
    const res = await new MockActivityEnvironment().run(finalize, rt, finalizeInput('batch_ok', 3, 12));
    expect(res).toMatchObject({ completed: 0, failed: 12 });
  });

  it('fails non-retryably, naming the batch, model and segment, when a segment is missing', async () => {
    await writeSegments('batch_gone', 3, 4);
    await rt.store.delete(layout.segment(TENANT, 'batch_gone', 0, 1));
    const failure = await failureOf(
      new MockActivityEnvironment().run(finalize, rt, finalizeInput('batch_gone', 3, 12)),
    );
    expect(failure.type).toBe(BATCH_DATA_INCONSISTENT);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(/^Batch batch_gone: input segment 1 of model 0 is missing from storage/);
    // Nothing half-written became visible.
    for (const role of ['output', 'error'] as const)
      expect(await rt.files.get(TENANT, derivedFileId('batch_gone', role))).toBeNull();
  });

  it('fails non-retryably with expected and found counts when segments lost requests', async () => {
    await writeSegments('batch_short', 2, 4);
    await rt.store.put(layout.segment(TENANT, 'batch_short', 0, 1), formatSegmentLine('r-1-0', '{}'));
    const failure = await failureOf(
      new MockActivityEnvironment().run(finalize, rt, finalizeInput('batch_short', 2, 8)),
    );
    expect(failure.type).toBe(BATCH_DATA_INCONSISTENT);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toBe(
      'Batch batch_short: the 2 input segments of model 0 hold 5 requests; ingest wrote 8.',
    );
  });
});

describe('storage that refuses writes', () => {
  it('turns a journal append failing with ENOSPC into a non-retryable STORAGE_UNWRITABLE', async () => {
    const batchId = 'batch_full';
    await writeSegments(batchId, 1, 2);
    const journal = await ChunkJournal.load(rt.store, {
      tenant: TENANT,
      batchId,
      endpoint: '/v1/chat/completions',
      modelIndex: 0,
      model: 'm',
      fromSegment: 0,
      toSegment: 1,
      deadline: 0,
    });
    expect(journal.jobs).toHaveLength(2);
    // The disk fills once the chunk has loaded: the journal becomes /dev/full, where opening works
    // and every write fails with ENOSPC (reading it would never end, hence after the load).
    const journalPath = join(root, layout.journal(TENANT, batchId, 0, 0));
    mkdirSync(dirname(journalPath), { recursive: true });
    symlinkSync('/dev/full', journalPath);
    // The write is not awaited by the lane: the chunk hears of it at once, and `settled` throws it.
    const told: Error[] = [];
    journal.onWriteError = (err) => told.push(err);
    await journal.record(journal.jobs[0], 'o', ZERO, 's', '{"custom_id":"r-0-0"}');
    expect(journal.failed).toBe(true);
    expect(told).toHaveLength(1);
    const failure = await failureOf(journal.settled());
    expect(failure.type).toBe(STORAGE_UNWRITABLE);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toMatch(
      /^Storage refused to write \(ENOSPC\) on append of '.*\/parts\/0\/0\.journal'/,
    );
    await journal.close();
  });

  it('leaves other write errors retryable (a transient fault may pass)', async () => {
    mkdirSync(join(root, TENANT), { recursive: true });
    const dir = join(root, TENANT, 'not-a-dir');
    writeFileSync(dir, 'a file where a directory should be');
    const err = await rt.store.put(`${TENANT}/not-a-dir/x.json`, 'x').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect((err as NodeJS.ErrnoException).code).toMatch(/^E[A-Z]+$/);
  });
});
