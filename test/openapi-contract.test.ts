// The OpenAPI document against the running product: every route called over real HTTP (answers
// and errors), every answer checked against the spec (status, content type, headers, body), and
// the document itself checked (one source: the zod schemas; every extension field described).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/api/openapi/document';
import { Batch } from '../src/domain/batch';
import type { Batch as BatchObject } from '../src/domain/batch';
import { chatLine, toJsonl } from './harness/batches';
import { OpenApiChecker, type Checked } from './harness/openapi-check';
import { startStack, type Stack } from './harness/stack';

const KEY = 'sk-contract-a-5b7e19c2d4f0';
/** A tenant allowed one active batch: its second create is the 429. */
const KEY_ONE = 'sk-contract-q-0c3a8e6f2b91';
const MAX_UPLOAD = 64 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'batchgw-openapi-'));
const keysFile = join(dir, 'keys.json');
writeFileSync(
  keysFile,
  JSON.stringify({
    [KEY]: 'openapi-a',
    [KEY_ONE]: { tenant: 'openapi-q', max_active_batches: 1 },
  }),
);

let stack: Stack;
let checker: OpenApiChecker;

interface CallOptions {
  key?: string | null;
  json?: unknown;
  form?: FormData;
  headers?: Record<string, string>;
  /** A raw body with its content type. */
  raw?: { type: string; body: string };
}

/** One real request, its answer checked against the spec; throws when the spec does not allow it. */
async function call(method: string, path: string, opts: CallOptions = {}): Promise<Checked> {
  const headers: Record<string, string> = { ...opts.headers };
  const key = opts.key === undefined ? KEY : opts.key;
  if (key) headers.authorization = `Bearer ${key}`;
  let body: string | FormData | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.form) body = opts.form;
  else if (opts.raw) {
    headers['content-type'] = opts.raw.type;
    body = opts.raw.body;
  }
  const res = await fetch(`${stack.apiUrl}${path}`, { method, headers, body });
  return checker.check(method, path, res);
}

/** Calls and expects this status (the answer already passed the spec). */
async function expectStatus(status: number, method: string, path: string, opts?: CallOptions) {
  const answer = await call(method, path, opts);
  expect(answer.status, `${method} ${path}: ${answer.text.slice(0, 400)}`).toBe(status);
  return answer;
}

function uploadForm(content: string, filename = 'input.jsonl', purpose: string | null = 'batch'): FormData {
  const form = new FormData();
  if (purpose !== null) form.append('purpose', purpose);
  form.append('file', new Blob([content]), filename);
  return form;
}

async function uploadLines(lines: unknown[], key = KEY): Promise<string> {
  const { json } = await expectStatus(200, 'POST', '/v1/files', { key, form: uploadForm(toJsonl(lines)) });
  return (json as { id: string }).id;
}

async function createBatch(fileId: string, key = KEY): Promise<BatchObject> {
  const body = { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' };
  return (await expectStatus(200, 'POST', '/v1/batches', { key, json: body })).json as BatchObject;
}

async function waitFor(id: string, until: (b: BatchObject) => boolean, key = KEY): Promise<BatchObject> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const b = (await expectStatus(200, 'GET', `/v1/batches/${id}`, { key })).json as BatchObject;
    if (until(b)) return b;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${b.status}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
const terminal = (b: BatchObject) => TERMINAL.has(b.status);

beforeAll(async () => {
  stack = await startStack({
    API_KEYS_FILE: keysFile,
    MAX_UPLOAD_BYTES: String(MAX_UPLOAD),
    MODEL_CONCURRENCY_OVERRIDES: '{"m-slow": 1}',
  });
  const res = await fetch(`${stack.apiUrl}/openapi.json`);
  expect(res.status).toBe(200);
  checker = new OpenApiChecker((await res.json()) as Record<string, unknown>);
});
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the document', () => {
  it('is OpenAPI 3.1 with every route the server registers', () => {
    const doc = buildOpenApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toBe('3.1.0');
    const ops = checker.operations();
    for (const op of [
      'POST /v1/files',
      'GET /v1/files',
      'GET /v1/files/{file_id}',
      'DELETE /v1/files/{file_id}',
      'GET /v1/files/{file_id}/content',
      'POST /v1/batches',
      'GET /v1/batches',
      'GET /v1/batches/{batch_id}',
      'POST /v1/batches/{batch_id}/cancel',
      'POST /v1/batches/{batch_id}/pause',
      'POST /v1/batches/{batch_id}/resume',
      'GET /v1/batches/{batch_id}/requests/{custom_id}',
      'GET /v1/batches/{batch_id}/results',
      'POST /v1/batches/{batch_id}/replay',
      'GET /health',
      'GET /metrics',
      'GET /openapi.json',
      'GET /console',
      'GET /console/settings.json',
      'GET /console/{file}',
    ])
      expect(ops).toContain(op);
    // The events the gateway sends are described too (OpenAPI 3.1 webhooks).
    const webhooks = (doc as { webhooks?: Record<string, Record<string, { requestBody: unknown }>> })
      .webhooks;
    expect(webhooks?.batchEvent.post.requestBody).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/WebhookEvent' } } },
    });
    // Every path parameter of a template is declared, and operation ids are unique.
    const ids = new Set<string>();
    for (const [template, methods] of Object.entries(doc.paths))
      for (const op of Object.values(methods) as {
        operationId: string;
        parameters?: { in: string; name: string }[];
      }[]) {
        const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
        expect(declared.sort()).toEqual([...template.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort());
        expect(ids.has(op.operationId)).toBe(false);
        ids.add(op.operationId);
      }
  });

  it('has the Batch schema of src/domain/batch.ts, and describes every x_ field', () => {
    const doc = buildOpenApiDocument() as {
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const { schemas } = doc.components;
    const batch = schemas.Batch as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(batch.properties).sort()).toEqual(Object.keys(Batch.shape).sort());
    // Every x_ property anywhere (Batch, the create body…) says what it is, itself or by its $ref.
    const undescribed: string[] = [];
    const visit = (node: unknown, where: string) => {
      if (!node || typeof node !== 'object') return;
      const props = (node as { properties?: Record<string, Record<string, unknown>> }).properties ?? {};
      for (const [name, prop] of Object.entries(props)) {
        const target = typeof prop.$ref === 'string' ? schemas[prop.$ref.split('/').pop() as string] : null;
        if (name.startsWith('x_') && !prop.description && !target?.description)
          undescribed.push(`${where}.${name}`);
      }
      for (const [k, v] of Object.entries(node)) visit(v, `${where}.${k}`);
    };
    for (const [name, schema] of Object.entries(schemas)) visit(schema, name);
    expect(undescribed).toEqual([]);
  });

  it('is served without an API key, and is the same document', async () => {
    const answer = await expectStatus(200, 'GET', '/openapi.json', { key: null });
    expect(answer.json).toEqual(
      JSON.parse(
        JSON.stringify(buildOpenApiDocument({ completionWindows: stack.config.COMPLETION_WINDOWS })),
      ),
    );
  });
});

describe('every route answers as the spec says', () => {
  it('files: upload, list, retrieve, content, delete, and their errors', async () => {
    const lines = [chatLine('f-1', 'm-1', 'hello')];
    const id = await uploadLines(lines);
    await expectStatus(200, 'POST', '/v1/files', {
      form: (() => {
        const f = uploadForm('{"x":1}\n', 'notes.jsonl', 'user_data');
        f.append('expires_after[anchor]', 'created_at');
        f.append('expires_after[seconds]', '7200');
        return f;
      })(),
    });
    await expectStatus(400, 'POST', '/v1/files', { form: uploadForm('x', 'input.jsonl', null) });
    await expectStatus(400, 'POST', '/v1/files', { form: uploadForm('x', 'input.txt') });
    await expectStatus(400, 'POST', '/v1/files', { form: uploadForm('x', 'input.jsonl', 'nonsense') });
    await expectStatus(400, 'POST', '/v1/files', { json: { purpose: 'batch' } });
    await expectStatus(413, 'POST', '/v1/files', { form: uploadForm('x'.repeat(MAX_UPLOAD + 1)) });
    await expectStatus(415, 'POST', '/v1/files', { raw: { type: 'application/xml', body: '<file/>' } });
    await expectStatus(401, 'POST', '/v1/files', { key: null, form: uploadForm('x') });

    const list = await expectStatus(200, 'GET', '/v1/files?limit=2&order=asc');
    expect((list.json as { object: string }).object).toBe('list');
    await expectStatus(200, 'GET', `/v1/files?purpose=batch&after=${id}`);
    await expectStatus(400, 'GET', '/v1/files?limit=0');
    await expectStatus(400, 'GET', '/v1/files?after=batch_abc');
    await expectStatus(401, 'GET', '/v1/files', { key: 'sk-wrong-000000000000' });

    await expectStatus(200, 'GET', `/v1/files/${id}`);
    const content = await expectStatus(200, 'GET', `/v1/files/${id}/content`);
    expect(content.text).toBe(toJsonl(lines));
    await expectStatus(404, 'GET', '/v1/files/file-nosuchfile000000000000');
    await expectStatus(404, 'GET', '/v1/files/not-a-file-id');
    await expectStatus(404, 'GET', '/v1/files/file-nosuchfile000000000000/content');
    await expectStatus(400, 'GET', '/v1/files/%E0%A4%A');
    await expectStatus(200, 'DELETE', `/v1/files/${id}`);
    await expectStatus(404, 'DELETE', `/v1/files/${id}`);
  });

  it('batches: create, list, retrieve, cancel, replay, and their errors', async () => {
    const fileId = await uploadLines([
      chatLine('ok-1', 'm-1', 'fine'),
      chatLine('bad-1', 'm-1', 'refused #sim:400'),
      chatLine('constructor', 'm-2', 'fine too'),
    ]);
    const created = await createBatch(fileId);
    expect(created.status).toBe('validating');
    const body = { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' };
    await expectStatus(400, 'POST', '/v1/batches', { json: { ...body, endpoint: '/v1/nope' } });
    await expectStatus(400, 'POST', '/v1/batches', { json: { ...body, completion_window: '7d' } });
    await expectStatus(400, 'POST', '/v1/batches', { json: { endpoint: body.endpoint } });
    await expectStatus(400, 'POST', '/v1/batches', { json: [1, 2] });
    await expectStatus(400, 'POST', '/v1/batches', { raw: { type: 'application/json', body: '{"a":' } });
    await expectStatus(404, 'POST', '/v1/batches', {
      json: { ...body, input_file_id: 'file-nosuchfile000000000000' },
    });
    await expectStatus(415, 'POST', '/v1/batches', { raw: { type: 'application/xml', body: '<b/>' } });
    await expectStatus(413, 'POST', '/v1/batches', {
      json: { ...body, metadata: { k: 'v'.repeat(11 * 1024 * 1024) } },
    });
    // An Idempotency-Key: the same body finds the same batch; another body is a 422.
    const keyed = { headers: { 'Idempotency-Key': `contract-${Date.now()}` } };
    const first = (await expectStatus(200, 'POST', '/v1/batches', { ...keyed, json: body }))
      .json as BatchObject;
    const again = (await expectStatus(200, 'POST', '/v1/batches', { ...keyed, json: body }))
      .json as BatchObject;
    expect(again.id).toBe(first.id);
    await expectStatus(422, 'POST', '/v1/batches', { ...keyed, json: { ...body, metadata: { k: 'v' } } });
    await expectStatus(401, 'POST', '/v1/batches', { key: null, json: body });

    const done = await waitFor(created.id, terminal);
    expect(done).toMatchObject({
      status: 'completed',
      request_counts: { total: 3, completed: 2, failed: 1 },
    });
    await waitFor(first.id, terminal);
    const list = await expectStatus(200, 'GET', '/v1/batches?limit=2');
    expect((list.json as { data: unknown[] }).data.length).toBe(2);
    await expectStatus(200, 'GET', `/v1/batches?after=${created.id}`);
    await expectStatus(400, 'GET', '/v1/batches?limit=1000');
    await expectStatus(400, 'GET', '/v1/batches?after=file-abc');
    await expectStatus(404, 'GET', '/v1/batches/batch_nosuchbatch00000000000000');
    await expectStatus(404, 'GET', `/v1/batches/${'batch_' + 'x'.repeat(200)}`);
    await expectStatus(409, 'POST', `/v1/batches/${created.id}/cancel`);
    await expectStatus(404, 'POST', '/v1/batches/batch_nosuchbatch00000000000000/cancel');

    // Dead-letter replay of the one failed line; an unknown code has nothing to replay.
    const replay = (await expectStatus(200, 'POST', `/v1/batches/${created.id}/replay`)).json as BatchObject;
    expect(replay.x_replay_of).toBe(created.id);
    await expectStatus(400, 'POST', `/v1/batches/${created.id}/replay`, { json: { codes: ['599'] } });
    await expectStatus(400, 'POST', `/v1/batches/${created.id}/replay`, { json: { codez: ['500'] } });
    await expectStatus(404, 'POST', '/v1/batches/batch_nosuchbatch00000000000000/replay');
    await waitFor(replay.id, terminal);

    // A batch that runs for a while: cancelled mid-way; a replay of it while it runs is a 409.
    const slowFile = await uploadLines(
      Array.from({ length: 20 }, (_, i) => chatLine(`slow-${i}`, 'm-1', 'wait #sim:delay=1500')),
    );
    const slow = await createBatch(slowFile);
    await waitFor(slow.id, (b) => b.status === 'in_progress');
    await expectStatus(409, 'POST', `/v1/batches/${slow.id}/replay`);
    const cancelling = (await expectStatus(200, 'POST', `/v1/batches/${slow.id}/cancel`)).json as BatchObject;
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    await waitFor(slow.id, terminal);
  });

  it('max_active_batches: the second active batch of a tenant is a 429', async () => {
    const fileId = await uploadLines(
      Array.from({ length: 5 }, (_, i) => chatLine(`q-${i}`, 'm-1', 'wait #sim:delay=1000')),
      KEY_ONE,
    );
    const running = await createBatch(fileId, KEY_ONE);
    const body = { input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' };
    await expectStatus(429, 'POST', '/v1/batches', { key: KEY_ONE, json: body });
    // Another tenant's batch is a 404 for this one.
    await expectStatus(404, 'GET', `/v1/batches/${running.id}`);
    await expectStatus(200, 'POST', `/v1/batches/${running.id}/cancel`, { key: KEY_ONE });
    await waitFor(running.id, terminal, KEY_ONE);
  });

  it('pause and resume', async () => {
    // One request at a time (m-slow), so the batch is still running when it is paused.
    const fileId = await uploadLines(
      Array.from({ length: 10 }, (_, i) => chatLine(`p-${i}`, 'm-slow', 'wait #sim:delay=1500')),
    );
    const batch = await createBatch(fileId);
    await waitFor(batch.id, (b) => b.status === 'in_progress');
    const paused = (await expectStatus(200, 'POST', `/v1/batches/${batch.id}/pause`)).json as BatchObject;
    expect(paused.x_paused_at).toEqual(expect.any(Number));
    const again = (await expectStatus(200, 'POST', `/v1/batches/${batch.id}/pause`, { json: {} }))
      .json as BatchObject;
    expect(again.x_paused_at).toBe(paused.x_paused_at);
    // While paused: the last record has not run (its chunk may still be draining), and the partial
    // results are what finished.
    const record = await expectStatus(200, 'GET', `/v1/batches/${batch.id}/requests/p-9`);
    expect(record.json).toMatchObject({ result: null, attempts: [] });
    expect(['pending', 'in_flight']).toContain((record.json as { state: string }).state);
    const partial = await expectStatus(200, 'GET', `/v1/batches/${batch.id}/results?kind=output`);
    expect(partial.text.split('\n').filter(Boolean).length).toBeLessThan(10);
    const resumed = (await expectStatus(200, 'POST', `/v1/batches/${batch.id}/resume`)).json as BatchObject;
    expect(resumed.x_paused_at).toBeNull();
    await expectStatus(200, 'POST', `/v1/batches/${batch.id}/resume`);
    await expectStatus(404, 'POST', '/v1/batches/batch_nosuchbatch00000000000000/pause');
    await expectStatus(404, 'POST', '/v1/batches/batch_nosuchbatch00000000000000/resume');
    // Paused again, then cancelled: a finished batch can be neither paused nor resumed.
    await expectStatus(200, 'POST', `/v1/batches/${batch.id}/pause`);
    await expectStatus(200, 'POST', `/v1/batches/${batch.id}/cancel`);
    await waitFor(batch.id, terminal);
    await expectStatus(409, 'POST', `/v1/batches/${batch.id}/pause`);
    await expectStatus(409, 'POST', `/v1/batches/${batch.id}/resume`);
  });

  it('one record and partial results', async () => {
    const fileId = await uploadLines([
      chatLine('r-ok', 'm-1', 'fine'),
      chatLine('r/bad?#', 'm-1', 'refused #sim:400'),
      chatLine('__proto__', 'm-2', 'fine'),
    ]);
    const batch = await createBatch(fileId);
    await waitFor(batch.id, terminal);
    for (const customId of ['r-ok', 'r/bad?#', '__proto__']) {
      const view = await expectStatus(
        200,
        'GET',
        `/v1/batches/${batch.id}/requests/${encodeURIComponent(customId)}`,
      );
      expect(view.json).toMatchObject({ object: 'batch.request', custom_id: customId, state: 'done' });
    }
    await expectStatus(404, 'GET', `/v1/batches/${batch.id}/requests/constructor`);
    await expectStatus(404, 'GET', '/v1/batches/batch_nosuchbatch00000000000000/requests/r-ok');
    const all = await expectStatus(200, 'GET', `/v1/batches/${batch.id}/results`);
    expect(all.text.split('\n').filter(Boolean)).toHaveLength(3);
    const errors = await expectStatus(200, 'GET', `/v1/batches/${batch.id}/results?kind=error`);
    expect(errors.text.split('\n').filter(Boolean)).toHaveLength(1);
    await expectStatus(400, 'GET', `/v1/batches/${batch.id}/results?kind=nope`);
    await expectStatus(404, 'GET', '/v1/batches/batch_nosuchbatch00000000000000/results');
  });

  it('health, metrics, the document and the console need no key', async () => {
    await expectStatus(200, 'GET', '/health', { key: null });
    const metrics = await expectStatus(200, 'GET', '/metrics', { key: null });
    expect(metrics.text).toContain('# HELP');
    await expectStatus(200, 'GET', '/console', { key: null });
    const settings = await expectStatus(200, 'GET', '/console/settings.json', { key: null });
    expect(settings.json).toMatchObject({ completionWindows: stack.config.COMPLETION_WINDOWS });
    for (const file of ['index.html', 'console.js', 'console.css'])
      await expectStatus(200, 'GET', `/console/${file}`, { key: null });
    await expectStatus(404, 'GET', '/console/constructor', { key: null });
  }, 180_000);

  it('every operation was seen answering its success status', () => {
    const unseen = checker
      .operations()
      .filter((op) => ![...checker.seen].some((s) => s.startsWith(`${op} 2`)));
    expect(unseen).toEqual([]);
  });
});
