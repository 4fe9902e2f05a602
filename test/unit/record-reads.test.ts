// The record view and partial results read storage one segment at a time: a record stops at the
// segment holding it, and the results stream reads a journal only when the client wants more.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { batchRecord, type RecordDeps } from '../../src/api/batch-record';
import type { BatchService } from '../../src/api/batch-service';
import { partialResults } from '../../src/api/partial-results';
import type { Batch } from '../../src/domain/batch';
import { formatAttempt, formatEntry } from '../../src/records/journal';
import { formatSegmentLine } from '../../src/records/segment';
import { FileRepository } from '../../src/storage/file-repository';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout } from '../../src/storage/layout';

/** The filesystem store, counting reads per key. */
class CountingStore extends FsObjectStore {
  readonly reads: string[] = [];
  override async get(key: string): Promise<Buffer | null> {
    this.reads.push(key);
    return super.get(key);
  }
}

const TENANT = 't-reads';
const ZERO = { input: 0, cached: 0, output: 0, reasoning: 0 };
const SEGMENTS = 50;
const PER_SEGMENT = 20;
const root = mkdtempSync(join(tmpdir(), 'batchgw-record-reads-'));
const store = new CountingStore(root);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const idOf = (s: number, i: number) => (s === 0 && i === 1 ? '__proto__' : `r-${s}-${i}`);
const lineOf = (id: string) =>
  JSON.stringify({
    id: `batch_req_${id}`,
    custom_id: id,
    response: null,
    error: { code: 'x', message: 'm' },
  });

async function writeBatch(batchId: string): Promise<void> {
  for (let s = 0; s < SEGMENTS; s++) {
    let segment = '';
    let journal = '';
    for (let i = 0; i < PER_SEGMENT; i++) {
      const id = idOf(s, i);
      segment += formatSegmentLine(id, JSON.stringify({ model: 'gpt-4o-mini', n: i }));
      const attempt = {
        started_at_ms: 1,
        duration_ms: 2,
        status_code: 500,
        error: null,
        retry_after_ms: null,
      };
      journal += formatAttempt(JSON.stringify(id), attempt);
      journal += formatEntry('e', JSON.stringify(id), ZERO, 'e', lineOf(id));
    }
    await store.put(layout.segment(TENANT, batchId, 0, s), segment);
    await store.put(layout.journal(TENANT, batchId, 0, s), journal);
  }
}

const running = (id: string) => ({ id, status: 'in_progress' }) as Batch;
const deps: RecordDeps = {
  store,
  files: new FileRepository(store),
  // Never asked: every record here has its result.
  batches: { pendingHeartbeats: () => Promise.reject(new Error('not expected')) } as unknown as BatchService,
};

describe('bounded reads', () => {
  it('finds a record by reading segments up to its own, no further', async () => {
    await writeBatch('batch_reads1');
    store.reads.length = 0;
    const view = await batchRecord(deps, TENANT, running('batch_reads1'), 'r-3-7');
    expect(view).toMatchObject({ state: 'done', model: 'gpt-4o-mini', result_file: 'error' });
    expect(view.attempts).toHaveLength(1);
    const segmentReads = store.reads.filter((k) => k.includes('/shards/'));
    expect(segmentReads).toEqual([0, 1, 2, 3].map((s) => layout.segment(TENANT, 'batch_reads1', 0, s)));
    // A key of Object.prototype is a custom_id like any other.
    const proto = await batchRecord(deps, TENANT, running('batch_reads1'), '__proto__');
    expect(proto.result).toEqual(JSON.parse(lineOf('__proto__')));
  });

  it('streams partial results segment by segment, reading journals as the client pulls', async () => {
    await writeBatch('batch_reads2');
    store.reads.length = 0;
    const stream = partialResults(deps, TENANT, running('batch_reads2'), 'both');
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await iterator.next()).value as Buffer;
    expect(first.toString().split('\n')[0]).toBe(lineOf(idOf(0, 0)));
    // The stream buffers ahead a little (its highWaterMark), never the whole batch.
    const journalReads = () => store.reads.filter((k) => k.endsWith('.journal')).length;
    expect(journalReads()).toBeLessThan(SEGMENTS / 2);
    let text = first.toString();
    for (let r = await iterator.next(); !r.done; r = await iterator.next())
      text += (r.value as Buffer).toString();
    expect(journalReads()).toBe(SEGMENTS);
    const ids = text
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
    expect(ids).toHaveLength(SEGMENTS * PER_SEGMENT);
    expect(new Set(ids).size).toBe(ids.length);
    let output = '';
    for await (const c of partialResults(deps, TENANT, running('batch_reads2'), 'output'))
      output += String(c);
    expect(output).toBe('');
  });

  it('answers a validating batch with request_not_found, and reads a record from the files after GC', async () => {
    await expect(
      batchRecord(deps, TENANT, { id: 'batch_reads3', status: 'validating' } as Batch, 'r-0-0'),
    ).rejects.toMatchObject({ statusCode: 404, code: 'request_not_found', param: 'custom_id' });
    // A finished batch whose segments and journals were collected: its files and input remain.
    const now = Math.floor(Date.now() / 1000);
    const save = async (id: string, content: string) => {
      await store.put(layout.fileContent(TENANT, id), content);
      await deps.files.save({
        id,
        object: 'file',
        bytes: content.length,
        created_at: now,
        filename: id,
        purpose: 'batch_output',
        status: 'processed',
        expires_at: null,
        status_details: null,
        tenant: TENANT,
      });
    };
    const input = ['a', 'constructor']
      .map((id) =>
        JSON.stringify({
          custom_id: id,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: `m-${id}` },
        }),
      )
      .join('\n');
    await save('file-input0000000000000000000', input + '\n');
    await save('file-output000000000000000000', lineOf('a') + '\n');
    await save('file-error0000000000000000000', lineOf('constructor') + '\n');
    const ended = {
      id: 'batch_reads4',
      status: 'cancelled',
      input_file_id: 'file-input0000000000000000000',
      output_file_id: 'file-output000000000000000000',
      error_file_id: 'file-error0000000000000000000',
    } as Batch;
    expect(await batchRecord(deps, TENANT, ended, 'constructor')).toEqual({
      object: 'batch.request',
      batch_id: 'batch_reads4',
      custom_id: 'constructor',
      model: 'm-constructor',
      state: 'done',
      attempts: [],
      result: JSON.parse(lineOf('constructor')),
      result_file: 'error',
    });
    expect(await batchRecord(deps, TENANT, ended, 'a')).toMatchObject({
      model: 'm-a',
      result_file: 'output',
    });
    await expect(batchRecord(deps, TENANT, ended, 'b')).rejects.toMatchObject({ code: 'request_not_found' });
  });
});
