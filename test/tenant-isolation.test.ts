import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { loadConfig } from '../src/config';
import { startApi } from '../src/main/start-api';
import { chatLine, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Two tenants on one deployment: B must not be able to tell A's objects from missing ones, on
// any route, over the official client or raw HTTP; and a trusted-header API sees the same tenants.
const KEY_A = 'sk-iso-team-a-5be0f19c';
const KEY_B = 'sk-iso-team-b-0d3a77e2';

const dir = mkdtempSync(join(tmpdir(), 'batchgw-iso-'));
const keysFile = join(dir, 'keys.json');
// Tenant names of this file only: test files share one Temporal namespace, and lists are per tenant.
const A = 'iso-team-a';
const B = 'iso-team-b';
writeFileSync(keysFile, JSON.stringify({ [KEY_A]: A, [KEY_B]: B }));

let stack: Stack;
let done: Batch; // A's finished batch, with an output and an error file
let running: Batch; // A's batch still in progress
let inputFileId: string;
const client = (key: string) => new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: key, maxRetries: 0 });

/** A's id and an id of the same kind that names nothing: B must get the same answer for both. */
const MISSING_FILE = 'file-0000000000000000000000000';
const MISSING_BATCH = 'batch_0000000000000000000000000';

/** Status and body of a request, the id in it replaced, so two answers can be compared. */
async function answer(
  baseUrl: string,
  method: string,
  path: string,
  id: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${baseUrl}${path.replace('{id}', id)}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.text()).replaceAll(id, '{id}') };
}

beforeAll(async () => {
  stack = await startStack({
    API_KEYS_FILE: keysFile,
    // One request of `m-slow` at a time, so A's second batch stays in progress and a cancel drains fast.
    MODEL_CONCURRENCY_OVERRIDES: '{"m-slow": 1}',
  });
  const a = client(KEY_A);
  const input = await uploadJsonl(
    a,
    toJsonl([chatLine('ok', 'm-1', 'hello'), chatLine('no', 'm-1', '#sim:409')]),
  );
  inputFileId = input.id;
  const created = await a.batches.create({
    input_file_id: input.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  done = await waitForBatch(a, created.id);
  expect(done.status).toBe('completed');
  expect(done.output_file_id && done.error_file_id).toBeTruthy();
  const slow = await uploadJsonl(
    a,
    toJsonl(Array.from({ length: 40 }, (_, i) => chatLine(`s-${i}`, 'm-slow', `s ${i} #sim:delay=1000`))),
  );
  running = (await a.batches.create({
    input_file_id: slow.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  })) as unknown as Batch;
});
afterAll(async () => {
  if (running)
    await client(KEY_A)
      .batches.cancel(running.id)
      .catch(() => undefined);
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('tenant isolation', () => {
  it("answers another tenant's ids exactly like missing ones, on every route", async () => {
    const files = [inputFileId, done.output_file_id!, done.error_file_id!];
    const routes: { method: string; path: string; ids: string[]; missing: string; body?: unknown }[] = [
      { method: 'GET', path: '/v1/files/{id}', ids: files, missing: MISSING_FILE },
      { method: 'GET', path: '/v1/files/{id}/content', ids: files, missing: MISSING_FILE },
      { method: 'DELETE', path: '/v1/files/{id}', ids: files, missing: MISSING_FILE },
      { method: 'GET', path: '/v1/batches/{id}', ids: [done.id, running.id], missing: MISSING_BATCH },
      { method: 'POST', path: '/v1/batches/{id}/cancel', ids: [done.id, running.id], missing: MISSING_BATCH },
      { method: 'POST', path: '/v1/batches/{id}/replay', ids: [done.id, running.id], missing: MISSING_BATCH },
      {
        method: 'GET',
        path: '/v1/batches/{id}/requests/ok',
        ids: [done.id, running.id],
        missing: MISSING_BATCH,
      },
      { method: 'GET', path: '/v1/batches/{id}/results', ids: [done.id, running.id], missing: MISSING_BATCH },
      {
        method: 'POST',
        path: '/v1/batches/{id}/replay',
        ids: [done.id],
        missing: MISSING_BATCH,
        body: { codes: ['409'] },
      },
      // A's input file as B's batch input.
      {
        method: 'POST',
        path: '/v1/batches',
        ids: [inputFileId],
        missing: MISSING_FILE,
        body: { input_file_id: '{id}', endpoint: '/v1/chat/completions', completion_window: '24h' },
      },
      // A's ids as B's list cursors: like a cursor that names nothing (an empty page).
      { method: 'GET', path: '/v1/files?after={id}', ids: files, missing: MISSING_FILE },
      { method: 'GET', path: '/v1/batches?after={id}', ids: [done.id, running.id], missing: MISSING_BATCH },
    ];
    const asB = { authorization: `Bearer ${KEY_B}` };
    for (const r of routes) {
      for (const id of r.ids) {
        const body = r.body && JSON.parse(JSON.stringify(r.body).replace('{id}', id));
        const missingBody = r.body && JSON.parse(JSON.stringify(r.body).replace('{id}', r.missing));
        const theirs = await answer(stack.apiUrl, r.method, r.path, id, asB, body);
        const missing = await answer(stack.apiUrl, r.method, r.path, r.missing, asB, missingBody);
        expect(theirs, `${r.method} ${r.path} ${id}`).toEqual(missing);
        if (!r.path.includes('after=')) expect(theirs.status, `${r.method} ${r.path}`).toBe(404);
      }
    }
    // The owner reads them.
    const asA = { authorization: `Bearer ${KEY_A}` };
    expect((await answer(stack.apiUrl, 'GET', '/v1/batches/{id}/requests/ok', done.id, asA)).status).toBe(
      200,
    );
    expect((await answer(stack.apiUrl, 'GET', '/v1/batches/{id}/results', done.id, asA)).status).toBe(200);
  });

  it('raises NotFoundError in the openai client and lists nothing of the other tenant', async () => {
    const b = client(KEY_B);
    const notFound = async (call: Promise<unknown>) =>
      expect(
        await call.then(
          () => null,
          (e: unknown) => e,
        ),
      ).toBeInstanceOf(OpenAI.NotFoundError);
    await notFound(b.files.retrieve(inputFileId));
    await notFound(b.files.content(done.output_file_id!));
    await notFound(b.files.delete(inputFileId));
    await notFound(b.batches.retrieve(done.id));
    await notFound(b.batches.cancel(running.id));
    // B's own objects are B's alone.
    const own = await uploadJsonl(b, toJsonl([chatLine('b-1', 'm-1', 'hello from b')]));
    const ownBatch = await b.batches.create({
      input_file_id: own.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const bFiles = [];
    for await (const f of b.files.list()) bFiles.push(f.id);
    expect(bFiles).toEqual([own.id]);
    const bBatches = [];
    for await (const x of b.batches.list()) bBatches.push(x.id);
    expect(bBatches).toEqual([ownBatch.id]);
    await notFound(client(KEY_A).files.retrieve(own.id));
    await notFound(client(KEY_A).batches.retrieve(ownBatch.id));
    await waitForBatch(b, ownBatch.id);

    // Nothing B tried touched A's objects.
    const a = client(KEY_A);
    const aFiles = [];
    for await (const f of a.files.list()) aFiles.push(f.id);
    expect(aFiles).toEqual(expect.arrayContaining([inputFileId, done.output_file_id, done.error_file_id]));
    expect(aFiles).not.toContain(own.id);
    expect(await (await a.files.content(done.output_file_id!)).text()).toContain('"custom_id":"ok"');
    expect((await a.batches.retrieve(running.id)).status).toMatch(/^(validating|in_progress)$/);
    const aBatches = [];
    for await (const x of a.batches.list()) aBatches.push(x.id);
    expect(aBatches.sort()).toEqual([done.id, running.id].sort());
  });

  it('identifies tenants by a trusted header behind an auth proxy (AUTH_MODE=trusted-header)', async () => {
    const api = await startApi(
      loadConfig({
        // The stack's Temporal, task queue and storage; identity from a header instead of keys.
        TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
        DATA_DIR: stack.config.DATA_DIR,
        PORT: '0',
        LOG_LEVEL: 'silent',
        AUTH_MODE: 'trusted-header',
        TENANT_HEADER: 'X-Forwarded-Tenant',
      }),
      stack.store,
    );
    try {
      const as = (tenant: string): Record<string, string> => ({ 'x-forwarded-tenant': tenant });
      expect(api.authLine).toMatch(/^trusted header 'x-forwarded-tenant'/);
      // The same tenants as the keys: A sees A's file and batch, B gets 404 like a missing id.
      const mine = await answer(api.url, 'GET', '/v1/batches/{id}', done.id, as(A));
      expect(mine.status).toBe(200);
      expect(JSON.parse(mine.body)).toMatchObject({ id: '{id}', status: 'completed' });
      expect((await answer(api.url, 'GET', '/v1/files/{id}', inputFileId, as(A))).status).toBe(200);
      expect(await answer(api.url, 'GET', '/v1/files/{id}', inputFileId, as(B))).toEqual(
        await answer(api.url, 'GET', '/v1/files/{id}', MISSING_FILE, as(B)),
      );
      // A key is no identity here; a missing or malformed header is a 401.
      for (const [headers, code] of [
        [{ authorization: `Bearer ${KEY_A}` }, 'missing_tenant'],
        [as(''), 'missing_tenant'],
        [as('team a'), 'invalid_tenant'],
        [as(`../${A}`), 'invalid_tenant'],
        [as('x'.repeat(65)), 'invalid_tenant'],
      ] as [Record<string, string>, string][]) {
        const res = await fetch(`${api.url}/v1/files`, { headers });
        expect(res.status, JSON.stringify(headers)).toBe(401);
        expect(((await res.json()) as { error: { code: string; type: string } }).error).toMatchObject({
          code,
          type: 'invalid_request_error',
        });
      }
      expect((await fetch(`${api.url}/health`)).status).toBe(200);
    } finally {
      await api.close();
    }
  });
});
