// The ingest activity on hostile files, run in Temporal's activity test environment against the real
// filesystem store: what it reports stays small, whatever the input.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, MAX_REPORTED_ERROR_BYTES, MAX_REPORTED_ERRORS } from '../../src/activities/ingest/ingest';
import { createActivityRuntime, type ActivityRuntime } from '../../src/activities/runtime';
import { loadConfig } from '../../src/config';
import { layout } from '../../src/storage/layout';
import { FsObjectStore } from '../../src/storage/fs-store';
import type { IngestResult } from '../../src/workflows/types';

const TENANT = 't-ingest';
let root: string;
let rt: ActivityRuntime;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'batchgw-ingest-'));
  rt = createActivityRuntime(
    // custom_ids of up to 4,000 characters, for the test of many long duplicated ids.
    loadConfig({
      DATA_DIR: root,
      MAX_MODELS_PER_BATCH: '3',
      MAX_LINE_BYTES: '4096',
      MAX_CUSTOM_ID_LENGTH: '4000',
    }),
    new FsObjectStore(root),
    'http://127.0.0.1:9',
  );
});
afterAll(async () => {
  await rt.gateway.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
async function runIngest(lines: string[]): Promise<IngestResult> {
  const fileId = `file-ingest${++n}`;
  const content = lines.join('\n') + '\n';
  await rt.store.put(layout.fileContent(TENANT, fileId), content);
  await rt.files.save({
    id: fileId,
    object: 'file',
    bytes: Buffer.byteLength(content),
    created_at: 0,
    filename: 'in.jsonl',
    purpose: 'batch',
    status: 'processed',
    expires_at: null,
    status_details: null,
    tenant: TENANT,
  });
  return new MockActivityEnvironment().run(ingest, rt, {
    tenant: TENANT,
    batchId: `batch_ingest${n}`,
    endpoint: '/v1/chat/completions',
    inputFileId: fileId,
  });
}

const line = (id: string, model = 'm') =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [] },
  });

describe('ingest of hostile files', () => {
  it('keeps at most MAX_REPORTED_ERRORS errors, of bounded total size, however long the ids', async () => {
    // 3,000 duplicated custom_ids of ~3 KB each: unbounded, the errors alone would be ~9 MB.
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const id = `${i}-` + 'x'.repeat(3000);
      lines.push(line(id), line(id));
    }
    const res = await runIngest(lines);
    if (res.ok) throw new Error('expected a failed ingest');
    expect(res.errors.length).toBeLessThanOrEqual(MAX_REPORTED_ERRORS);
    expect(res.errors.length).toBeGreaterThan(100);
    expect(JSON.stringify(res.errors).length).toBeLessThan(MAX_REPORTED_ERROR_BYTES * 1.2);
    expect(res.errors[0]).toMatchObject({ code: 'duplicate_custom_id', line: 2 });
    expect(res.errors[0].message).toBe(`Line 2: custom_id '0-${'x'.repeat(62)}…' is not unique.`);
  }, 60_000);

  it('reports too_many_models once, at the first line bringing a model beyond the limit', async () => {
    const res = await runIngest([
      line('a', 'constructor'),
      line('b', '__proto__'),
      line('c', 'toString'),
      line('d', 'constructor'),
      line('e', 'valueOf'),
      line('f', 'x'),
    ]);
    expect(res).toEqual({
      ok: false,
      errors: [
        {
          code: 'too_many_models',
          message: "Line 5: model 'valueOf' is beyond the maximum of 3 distinct models per batch.",
          param: 'body.model',
          line: 5,
        },
      ],
    });
  });

  it('plans prototype-named models like any other, each with a numeric window', async () => {
    const res = await runIngest([
      line('a', 'constructor'),
      line('b', '__proto__'),
      line('c', 'hasOwnProperty'),
    ]);
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    expect(res.models.map((m) => [m.model, m.requests])).toEqual([
      ['constructor', 1],
      ['__proto__', 1],
      ['hasOwnProperty', 1],
    ]);
    for (const m of res.models) expect(Number.isInteger(m.window) && m.window > 0).toBe(true);
  });

  it('reports a line over MAX_LINE_BYTES by number and keeps numbering the lines after it', async () => {
    const res = await runIngest([line('a'), line('b' + 'x'.repeat(5000)), 'not json']);
    expect(res.ok ? [] : res.errors.map((e) => [e.code, e.line])).toEqual([
      ['line_too_large', 2],
      ['invalid_json_line', 3],
    ]);
  });
});

describe('segment sizes', () => {
  const sizesOf = async (batchId: string, model: number, segments: number) => {
    const out: number[] = [];
    for (let s = 0; s < segments; s++) {
      const text = (await rt.store.get(layout.segment(TENANT, batchId, model, s)))!.toString('utf8');
      out.push(text.split('\n').filter(Boolean).length);
    }
    return out;
  };

  it('cuts a large batch into segments of about a 64th of its lines, up to SEGMENT_SIZE_LARGE', async () => {
    const lines = Array.from({ length: 24_000 }, (_, i) => line(`s-${i}`, i % 4 === 0 ? 'small' : 'big'));
    const res = await runIngest(lines);
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    // 24,000 lines of about the same size: ~375 a segment (estimated from the first lines), the last of each model shorter.
    for (const m of res.models) {
      const sizes = await sizesOf(`batch_ingest${n}`, m.index, m.segments);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(m.requests);
      for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(340);
      for (const size of sizes.slice(0, -1)) expect(size).toBeLessThanOrEqual(420);
    }
    expect(res.models.find((m) => m.model === 'big')!.segments).toBeLessThan(50); // 180 at a fixed 100
    // The plan counts in those segments: chunks of about five rounds of the concurrency.
    expect(res.segmentsPerChunk).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('keeps SEGMENT_SIZE for a batch of up to 64 segments of it', async () => {
    const res = await runIngest(Array.from({ length: 5_000 }, (_, i) => line(`k-${i}`)));
    if (!res.ok) throw new Error(JSON.stringify(res.errors));
    expect(res.models[0].segments).toBe(50);
    expect(await sizesOf(`batch_ingest${n}`, 0, 50)).toEqual(Array(50).fill(100));
  });

  it('keeps a chosen SEGMENT_SIZE for every segment unless SEGMENT_SIZE_LARGE is set too', () => {
    expect(loadConfig({ SEGMENT_SIZE: '10' }).SEGMENT_SIZE_LARGE).toBe(10);
    expect(loadConfig({}).SEGMENT_SIZE_LARGE).toBe(1000);
    expect(loadConfig({ SEGMENT_SIZE: '10', SEGMENT_SIZE_LARGE: '50' }).SEGMENT_SIZE_LARGE).toBe(50);
    // Never below SEGMENT_SIZE.
    expect(loadConfig({ SEGMENT_SIZE: '200', SEGMENT_SIZE_LARGE: '50' }).SEGMENT_SIZE_LARGE).toBe(200);
  });
});

describe('custom_id length', () => {
  it('reports a custom_id over MAX_CUSTOM_ID_LENGTH (default 512) as a line-numbered invalid_request', async () => {
    const defaults = createActivityRuntime(
      loadConfig({ DATA_DIR: root }),
      new FsObjectStore(root),
      'http://127.0.0.1:9',
    );
    expect(defaults.config.MAX_CUSTOM_ID_LENGTH).toBe(512);
    const saved = rt;
    rt = defaults;
    try {
      const long = 'h'.repeat(8 * 1024); // would make an 8 KiB Idempotency-Key header upstream
      const res = await runIngest([line('ok-1'), line('x'.repeat(512)), line(long), line('ok-2')]);
      expect(res.ok ? [] : res.errors).toEqual([
        {
          code: 'invalid_request',
          param: 'custom_id',
          line: 3,
          message: `Line 3: custom_id '${'h'.repeat(64)}…' is longer than 512 characters.`,
        },
      ]);
    } finally {
      rt = saved;
      await defaults.gateway.close();
    }
  });
});

describe('segments of large lines', () => {
  it('closes a segment once it holds 8 MiB, before SEGMENT_SIZE lines, so none is huge to read back', async () => {
    const big = createActivityRuntime(
      loadConfig({ DATA_DIR: root, MAX_LINE_BYTES: String(4 * 1024 * 1024) }),
      new FsObjectStore(root),
      'http://127.0.0.1:9',
    );
    const saved = rt;
    rt = big;
    try {
      const pad = 'p'.repeat(3 * 1024 * 1024);
      const lines = Array.from({ length: 4 }, (_, i) =>
        JSON.stringify({
          custom_id: `big-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: 'm', pad },
        }),
      );
      const res = await runIngest(lines);
      if (!res.ok) throw new Error(JSON.stringify(res.errors));
      expect(res.models).toMatchObject([{ model: 'm', requests: 4, segments: 2 }]);
      const first = await big.store.size(layout.segment(TENANT, `batch_ingest${n}`, 0, 0));
      expect(first).toBeGreaterThan(8 * 1024 * 1024);
      expect(first).toBeLessThan(12 * 1024 * 1024);
    } finally {
      rt = saved;
      await big.gateway.close();
    }
  });
});
