// The whole Files + Batches surface through the official openai-node client (v6), as a user
// would drive it: every method, typed errors, auto-pagination and raw responses (issue 7, item 11).
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, readResultFile, toJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';
import { rawRequest } from './clients/raw-http';

let stack: Stack;
let openai: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  openai = stack.openai;
});
afterAll(async () => stack?.close());

const upload = async (lines: unknown[], name = 'input.jsonl') =>
  openai.files.create({ file: await toFile(Buffer.from(toJsonl(lines)), name), purpose: 'batch' });
const create = async (lines: unknown[]) =>
  openai.batches.create({
    input_file_id: (await upload(lines)).id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
/** Lines that keep a batch running for a while, so it can be cancelled mid-way. */
const slowLines = (n: number) =>
  Array.from({ length: n }, (_, i) => chatLine(`slow-${i}`, 'gpt-4o-mini', `slow ${i} #sim:delay=1500`));

/** The rejection of `p`, which must be an instance of `type` (the client's typed exception). */
async function rejection<T extends InstanceType<typeof OpenAI.APIError>>(
  p: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'the call should have failed').toBeInstanceOf(type);
  return err as T;
}

describe('files', () => {
  it('create, retrieve, content, delete — and every read of a deleted file is a NotFoundError', async () => {
    const content = toJsonl([chatLine('a', 'gpt-4o-mini', 'one'), chatLine('b', 'gpt-4o', 'two')]);
    const file = await openai.files.create({
      file: await toFile(Buffer.from(content), 'requests.jsonl'),
      purpose: 'batch',
    });
    expect(file).toMatchObject({ object: 'file', purpose: 'batch', filename: 'requests.jsonl' });
    expect(file.bytes).toBe(Buffer.byteLength(content));
    expect(await openai.files.retrieve(file.id)).toEqual(file);
    expect(await (await openai.files.content(file.id)).text()).toBe(content);

    const deleted = await openai.files.delete(file.id);
    expect(deleted).toEqual({ id: file.id, object: 'file', deleted: true });
    for (const call of [
      () => openai.files.retrieve(file.id),
      () => openai.files.content(file.id),
      () => openai.files.delete(file.id),
    ]) {
      const err = await rejection(call(), OpenAI.NotFoundError);
      expect(err.status).toBe(404);
      expect(err.type).toBe('not_found_error');
    }
  });

  it('list pages with limit=2 and the auto-pager walks every file, newest first (and asc on request)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await openai.files.create({
        file: await toFile(Buffer.from(`e${i}`), `e${i}.txt`),
        purpose: 'evals',
      });
      ids.push(f.id);
    }
    const first = await openai.files.list({ purpose: 'evals', limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);
    const second = await first.getNextPage();
    expect(second.data).toHaveLength(2);
    expect(second.data[0].id).not.toBe(first.data[1].id);

    const seen: OpenAI.FileObject[] = [];
    for await (const f of openai.files.list({ purpose: 'evals', limit: 2 })) seen.push(f);
    expect(seen.map((f) => f.id).sort()).toEqual([...ids].sort());
    expect(seen.every((f, i) => i === 0 || seen[i - 1].created_at >= f.created_at)).toBe(true);

    const asc: string[] = [];
    for await (const f of openai.files.list({ purpose: 'evals', limit: 2, order: 'asc' })) asc.push(f.id);
    expect(asc).toEqual(seen.map((f) => f.id).reverse());
  });

  it('bad input is a BadRequestError naming the parameter', async () => {
    const err = await rejection(
      openai.files.create({ file: await toFile(Buffer.from('x'), 'x.txt'), purpose: 'nonsense' as 'batch' }),
      OpenAI.BadRequestError,
    );
    expect(err.param).toBe('purpose');
    const notJsonl = await rejection(
      openai.files.create({ file: await toFile(Buffer.from('x'), 'x.csv'), purpose: 'batch' }),
      OpenAI.BadRequestError,
    );
    expect(notJsonl.code).toBe('invalid_file_format');
    const badCursor = await rejection(openai.files.list({ after: 'not-a-file-id' }), OpenAI.BadRequestError);
    expect(badCursor.param).toBe('after');
  });

  it('.withResponse() exposes the headers: x-request-id, content type and length', async () => {
    const file = await upload([chatLine('a', 'm', 'x')]);
    const { data, response, request_id } = await openai.files.retrieve(file.id).withResponse();
    expect(data.id).toBe(file.id);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(request_id).toMatch(/^req_[A-Za-z0-9]{24}$/);
    expect(response.headers.get('x-request-id')).toBe(request_id);

    const raw = await openai.files.content(file.id).withResponse();
    expect(raw.response.headers.get('content-type')).toBe('application/octet-stream');
    expect(Number(raw.response.headers.get('content-length'))).toBe(file.bytes);
  });
});

describe('batches', () => {
  it('create → retrieve until completed; output lines through files.content', async () => {
    const lines = [chatLine('a', 'gpt-4o-mini', 'alpha'), chatLine('b', 'gpt-4o', 'beta')];
    const batch = await create(lines);
    expect(batch).toMatchObject({ object: 'batch', status: 'validating', endpoint: '/v1/chat/completions' });
    expect(await openai.batches.retrieve(batch.id)).toMatchObject({ id: batch.id, object: 'batch' });
    const done = await waitForBatch(openai, batch.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    const out = await readResultFile(openai, done.output_file_id);
    expect(out.map((l) => [l.custom_id, l.response?.status_code]).sort()).toEqual([
      ['a', 200],
      ['b', 200],
    ]);
  });

  it('cancel: a running batch ends cancelled; cancelling again is a 200; a completed batch is a ConflictError', async () => {
    const running = await create(slowLines(40));
    const cancelling = await openai.batches.cancel(running.id);
    expect(cancelling.id).toBe(running.id);
    expect(['cancelling', 'cancelled']).toContain(cancelling.status);
    const cancelled = await waitForBatch(openai, running.id);
    expect(cancelled.status).toBe('cancelled');
    expect((await openai.batches.cancel(running.id)).status).toBe('cancelled');

    const finished = await waitForBatch(openai, (await create([chatLine('c', 'gpt-4o-mini', 'x')])).id);
    const conflict = await rejection(openai.batches.cancel(finished.id), OpenAI.ConflictError);
    expect(conflict.status).toBe(409);
  });

  it('list with limit=2 over ≥5 batches: pages of two, and the auto-pager yields every batch once, newest first', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create([chatLine(`p${i}`, 'gpt-4o-mini', 'x')])).id);
    const page = await openai.batches.list({ limit: 2 });
    expect(page.data).toHaveLength(2);
    expect(page.hasNextPage()).toBe(true);

    // Every test file shares the Temporal server (one tenant), so walk until ours are all seen.
    const mine = (list: { id: string }[]) => list.filter((b) => ids.includes(b.id)).map((b) => b.id);
    const seen: OpenAI.Batch[] = [];
    let pages = 0;
    for await (const p of (await openai.batches.list({ limit: 2 })).iterPages()) {
      pages++;
      expect(p.data.length).toBeLessThanOrEqual(2);
      seen.push(...p.data);
      if (mine(seen).length === ids.length) break;
    }
    const seenIds = seen.map((b) => b.id);
    expect(new Set(seenIds).size).toBe(seenIds.length);
    expect(seenIds).toEqual(expect.arrayContaining(ids));
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(seen.every((b, i) => i === 0 || seen[i - 1].created_at >= b.created_at)).toBe(true);

    const viaItems: OpenAI.Batch[] = [];
    for await (const b of openai.batches.list({ limit: 2 })) {
      viaItems.push(b);
      if (mine(viaItems).length === ids.length) break;
    }
    expect(mine(viaItems)).toEqual(mine(seen));
  });

  it('typed errors: NotFoundError for unknown ids, BadRequestError for bad input', async () => {
    const missing = await rejection(
      openai.batches.retrieve('batch_doesnotexist000000000'),
      OpenAI.NotFoundError,
    );
    expect(missing.type).toBe('not_found_error');
    expect(missing.requestID).toMatch(/^req_/);
    await rejection(openai.batches.retrieve('batch_' + 'x'.repeat(400)), OpenAI.NotFoundError);
    await rejection(openai.batches.cancel('batch_doesnotexist000000000'), OpenAI.NotFoundError);

    const file = await upload([chatLine('a', 'm', 'x')]);
    const badEndpoint = await rejection(
      openai.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/nope' as '/v1/chat/completions',
        completion_window: '24h',
      }),
      OpenAI.BadRequestError,
    );
    expect(badEndpoint.param).toBe('endpoint');
    expect(badEndpoint.code).toBe('invalid_value');
    const noFile = await rejection(
      openai.batches.create({
        input_file_id: 'file-doesnotexist000000000',
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
      OpenAI.NotFoundError,
    );
    expect(noFile.param).toBe('input_file_id');
    const longId = await rejection(
      openai.batches.create({
        input_file_id: 'file-' + 'a'.repeat(400),
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
      OpenAI.NotFoundError,
    );
    expect(longId.param).toBe('input_file_id');
    const badMetadata = await rejection(
      openai.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { k: 'v'.repeat(513) },
      }),
      OpenAI.BadRequestError,
    );
    expect(badMetadata.param).toBe('metadata.k');
    await rejection(openai.batches.list({ after: 'file-abc' }), OpenAI.BadRequestError);
  });

  it('.withResponse() on create, retrieve, list and cancel reads the headers', async () => {
    const created = await openai.batches
      .create({
        input_file_id: (await upload(slowLines(5))).id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      })
      .withResponse();
    expect(created.response.status).toBe(200);
    expect(created.request_id).toMatch(/^req_/);
    const retrieved = await openai.batches.retrieve(created.data.id).withResponse();
    expect(retrieved.response.headers.get('content-type')).toContain('application/json');
    expect(retrieved.request_id).not.toBe(created.request_id);
    const listed = await openai.batches.list({ limit: 1 }).withResponse();
    expect(listed.response.headers.get('x-request-id')).toMatch(/^req_/);
    const cancelled = await openai.batches.cancel(created.data.id).withResponse();
    expect(cancelled.response.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(cancelled.data.status);
  });
});

describe('an empty JSON body, as the Python client sends it', () => {
  // openai-python sends `content-type: application/json` and no body on cancel and delete.
  const emptyJson = { headers: { 'content-type': 'application/json' }, body: '' };

  it('POST /v1/batches/{id}/cancel answers 200', async () => {
    const batch = await create(slowLines(10));
    const res = await rawRequest(stack.apiUrl, 'POST', `/v1/batches/${batch.id}/cancel`, emptyJson);
    expect(res.status, res.text).toBe(200);
    expect(['cancelling', 'cancelled']).toContain((JSON.parse(res.text) as { status: string }).status);
    expect((await waitForBatch(openai, batch.id)).status).toBe('cancelled');
  });

  it('DELETE /v1/files/{id} answers 200 and deletes', async () => {
    const file = await upload([chatLine('a', 'm', 'x')]);
    const res = await rawRequest(stack.apiUrl, 'DELETE', `/v1/files/${file.id}`, emptyJson);
    expect(res.status, res.text).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ id: file.id, object: 'file', deleted: true });
    await rejection(openai.files.retrieve(file.id), OpenAI.NotFoundError);
  });

  it('whitespace only is no body either; a POST /v1/batches without a body names the missing parameter', async () => {
    const file = await upload([chatLine('a', 'm', 'x')]);
    const res = await rawRequest(stack.apiUrl, 'DELETE', `/v1/files/${file.id}`, {
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: ' \r\n\t',
    });
    expect(res.status, res.text).toBe(200);
    const create = await rawRequest(stack.apiUrl, 'POST', '/v1/batches', emptyJson);
    expect(create.status).toBe(400);
    expect(JSON.parse(create.text)).toMatchObject({
      error: { param: 'input_file_id', code: 'missing_required_parameter' },
    });
  });
});
