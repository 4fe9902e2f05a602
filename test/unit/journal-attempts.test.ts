// Attempt lines (`a`) in a segment's journal: readers of results skip them, journals without them
// read as before, a torn one is ignored, and finalize writes the same files with or without them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalize } from '../../src/activities/finalize';
import { createActivityRuntime, type ActivityRuntime } from '../../src/activities/runtime';
import { loadConfig } from '../../src/config';
import {
  formatAttempt,
  formatEntry,
  parseJournal,
  recordEntries,
  type JournalAttempt,
} from '../../src/records/journal';
import { formatSegmentLine } from '../../src/records/segment';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';
import type { FinalizeInput, FinalizeResult } from '../../src/workflows/types';

const TENANT = 't-attempts';
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };
const attempt = (status: number | null, retryAfter: number | null = null): JournalAttempt => ({
  started_at_ms: 1_764_650_000_123,
  duration_ms: 12,
  status_code: status,
  error: status === null ? { code: 'request_timeout', message: 'no answer' } : null,
  retry_after_ms: retryAfter,
});
const line = (customId: string, status: number) =>
  JSON.stringify({
    id: `batch_req_${customId.length}`,
    custom_id: customId,
    response: { status_code: status, request_id: 'req_1', body: { ok: status === 200 } },
    error: null,
    x_governance: { outcome: status === 200 ? 'succeeded' : 'errored', attempts: 2, cached: false },
  });
// Keys that must not reach Object.prototype, and ids with separators and non-ASCII.
const IDS = ['constructor', '__proto__', 'a/b c%d', 'é✓', 'plain'];
const j = (id: string) => JSON.stringify(id);

/** A journal in the format before attempt lines (results only). */
const oldJournal = IDS.map((id) => formatEntry('o', j(id), ZERO, 's', line(id, 200))).join('');
/** The same results, each after a retried attempt written on its own and the last one with it. */
const newJournal = IDS.map(
  (id) =>
    formatAttempt(j(id), attempt(429, 1000)) +
    formatAttempt(j(id), attempt(200)) +
    formatEntry('o', j(id), ZERO, 's', line(id, 200)),
).join('');

describe('journal attempt lines', () => {
  it('parseJournal reads old and new journals alike and never takes an attempt line for a result', () => {
    const before = parseJournal(oldJournal);
    const after = parseJournal(newJournal);
    expect([...after.keys()]).toEqual(IDS.map(j));
    expect(after).toEqual(before);
    expect(recordEntries(oldJournal, j('__proto__'))).toEqual({
      attempts: [],
      entry: before.get(j('__proto__')),
    });
  });

  it('recordEntries finds one record’s attempts in order and its first intact entry', () => {
    for (const id of IDS) {
      const { attempts, entry } = recordEntries(newJournal, j(id));
      expect(attempts).toEqual([attempt(429, 1000), attempt(200)]);
      expect(entry?.line).toBe(line(id, 200));
    }
    // A custom_id that is a prefix of another's JSON is not confused with it.
    expect(recordEntries(newJournal, j('plai'))).toEqual({ attempts: [], entry: null });
  });

  it('ignores a torn attempt line and a torn entry (a process killed mid-append)', () => {
    const full = formatAttempt(j('x'), attempt(null)) + formatEntry('e', j('x'), ZERO, 'e', line('x', 500));
    const tornAttempt = formatAttempt(j('x'), attempt(500)).slice(0, -10);
    // Torn mid-attempt, then the repair newline and a later run's attempt and result.
    const text = tornAttempt + '\n' + full;
    const { attempts, entry } = recordEntries(text, j('x'));
    expect(attempts).toEqual([attempt(null)]);
    expect(entry?.kind).toBe('e');
    // Torn in the middle of the result entry: no result, the attempt that was written stays.
    const tornEntry = full.slice(0, -5);
    expect(recordEntries(tornEntry, j('x'))).toEqual({ attempts: [attempt(null)], entry: null });
    expect(parseJournal(tornEntry).size).toBe(0);
  });
});

describe('finalize with attempt lines', () => {
  let root: string;
  let rt: ActivityRuntime;
  let store: FsObjectStore;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'batchgw-attempts-'));
    store = new FsObjectStore(root);
    rt = createActivityRuntime(loadConfig({ DATA_DIR: root }), store, 'http://127.0.0.1:9');
  });
  afterAll(async () => {
    await rt.gateway.close();
    rmSync(root, { recursive: true, force: true });
  });

  /** Finalizes one segment of IDS plus a request without a result, and returns both files' text. */
  async function finalizeWith(batchId: string, journal: string): Promise<[string, string]> {
    const segment = [...IDS, 'never-ran'].map((id) => formatSegmentLine(id, '{"model":"m"}')).join('');
    await store.put(layout.segment(TENANT, batchId, 0, 0), segment);
    await store.put(layout.journal(TENANT, batchId, 0, 0), journal);
    const input: FinalizeInput = {
      tenant: TENANT,
      batchId,
      models: [{ index: 0, segments: 1, requests: IDS.length + 1 }],
      missingCode: 'batch_cancelled',
      outputTtlSeconds: null,
    };
    const res: FinalizeResult = await new MockActivityEnvironment().run(finalize, rt, input);
    expect(res).toMatchObject({ completed: IDS.length, failed: 1 });
    const read = async (id: string | null) => (await store.get(layout.fileContent(TENANT, id!)))!.toString();
    return [await read(res.outputFileId), await read(res.errorFileId)];
  }

  it('writes the same output file whether the journal has attempt lines or not', async () => {
    const [oldOut, oldErr] = await finalizeWith('batch_old', oldJournal);
    const [newOut, newErr] = await finalizeWith('batch_new', newJournal);
    expect(newOut).toBe(oldOut);
    expect(oldOut).toBe(IDS.map((id) => line(id, 200) + '\n').join(''));
    // The not-run line has a fresh id each time; the rest is equal.
    const strip = (t: string) => JSON.parse(t) as Record<string, unknown>;
    expect({ ...strip(newErr), id: '' }).toEqual({ ...strip(oldErr), id: '' });
    expect(strip(newErr)).toMatchObject({ custom_id: 'never-ran', error: { code: 'batch_cancelled' } });
  });
});
