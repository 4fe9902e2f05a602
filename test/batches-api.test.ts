import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import { chatLine, readResultFile, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { expectApiError, nowS, sleep, type ErrorBody } from './harness/api-errors';
import { startStack, type Stack } from './harness/stack';

// Slow upstream (300 ms a call, 2 at a time per model) so a batch can be caught and cancelled mid-run.
let stack: Stack;
let inputFileId: string;
beforeAll(async () => {
  // SEGMENT_SIZE 2: progress (live request_counts) is reported per chunk of segments.
  stack = await startStack(
    { MODEL_CONCURRENCY: '2', SEGMENT_SIZE: '2', COMPLETION_WINDOWS: '24h,1h' },
    { latencyMs: 300 },
  );
  inputFileId = (await uploadJsonl(stack.openai, toJsonl([chatLine('only', 'gpt-4o-mini', 'hello')]))).id;
});
afterAll(async () => stack?.close());

const BATCH_KEYS = [
  'cancelled_at',
  'cancelling_at',
  'completed_at',
  'completion_window',
  'created_at',
  'endpoint',
  'error_file_id',
  'errors',
  'expired_at',
  'expires_at',
  'failed_at',
  'finalizing_at',
  'id',
  'in_progress_at',
  'input_file_id',
  'metadata',
  'model',
  'object',
  'output_file_id',
  'request_counts',
  'status',
  'usage',
  // Our extensions (OpenAI clients ignore them): governance, per-model progress, pause, quality,
  // budget, dead-letter replay.
  'x_budget',
  'x_governance',
  'x_models',
  'x_paused_at',
  'x_quality',
  'x_replay_of',
  'x_replays',
];

const post = (path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${stack.apiUrl}${path}`, {
    method: 'POST',
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

const validCreate = () => ({
  input_file_id: inputFileId,
  endpoint: '/v1/chat/completions',
  completion_window: '24h',
});

async function createRaw(body: Record<string, unknown>): Promise<Batch> {
  const { data, response } = await stack.openai.batches
    .create(body as unknown as OpenAI.Batches.BatchCreateParams)
    .withResponse();
  expect(response.status).toBe(200);
  return data as unknown as Batch;
}

describe('batches.create', () => {
  it('returns HTTP 200 with the full Batch object in `validating`', async () => {
    const before = nowS();
    const batch = await createRaw({ ...validCreate(), metadata: { team: 'data', run: '7' } });
    const after = nowS();
    expect(Object.keys(batch).sort()).toEqual(BATCH_KEYS);
    BatchSchema.parse(batch);
    expect(batch.id).toMatch(/^batch_[A-Za-z0-9]+$/);
    expect(batch).toMatchObject({
      object: 'batch',
      endpoint: '/v1/chat/completions',
      model: null,
      errors: null,
      input_file_id: inputFileId,
      completion_window: '24h',
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      in_progress_at: null,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      usage: {
        input_tokens: 0,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: 0,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 0,
      },
      metadata: { team: 'data', run: '7' },
    });
    expect(Number.isInteger(batch.created_at)).toBe(true);
    expect(batch.created_at).toBeGreaterThanOrEqual(before);
    expect(batch.created_at).toBeLessThanOrEqual(after);
    expect(batch.expires_at).toBe(batch.created_at + 24 * 3600);

    const retrieved = await stack.openai.batches.retrieve(batch.id);
    expect(retrieved.id).toBe(batch.id);
    expect(retrieved.created_at).toBe(batch.created_at);
    expect(retrieved.metadata).toEqual({ team: 'data', run: '7' });

    const done = await waitForBatch(stack.openai, batch.id);
    expect(Object.keys(done).sort()).toEqual(BATCH_KEYS);
    expect(done.status).toBe('completed');
    expect(done.model).toBe('gpt-4o-mini');
    expect(done.request_counts).toEqual({ total: 1, completed: 1, failed: 0 });
  });

  it('a configured shorter window sets expires_at; metadata defaults to null', async () => {
    const batch = await createRaw({ ...validCreate(), completion_window: '1h' });
    expect(batch.completion_window).toBe('1h');
    expect(batch.expires_at).toBe(batch.created_at + 3600);
    expect(batch.metadata).toBeNull();
  });

  it('accepts the metadata limits exactly and output_expires_after', async () => {
    const metadata = Object.fromEntries(
      Array.from({ length: 16 }, (_, i) => [
        `${String(i).padStart(2, '0')}${'k'.repeat(62)}`,
        'v'.repeat(512),
      ]),
    );
    const batch = await createRaw({
      ...validCreate(),
      metadata,
      output_expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    expect(batch.metadata).toEqual(metadata);
  });

  it('missing required parameters → 400 missing_required_parameter', async () => {
    for (const field of ['input_file_id', 'endpoint', 'completion_window']) {
      const body: Record<string, unknown> = validCreate();
      delete body[field];
      const err = await expectApiError(await post('/v1/batches', body), 400);
      expect(err.param).toBe(field);
      expect(err.code).toBe('missing_required_parameter');
    }
    const err = await expectApiError(await post('/v1/batches', {}), 400);
    expect(err.code).toBe('missing_required_parameter');
    // Present but of the wrong type is not "missing".
    for (const field of ['input_file_id', 'endpoint', 'completion_window']) {
      const wrong = await expectApiError(await post('/v1/batches', { ...validCreate(), [field]: 42 }), 400);
      expect(wrong.param).toBe(field);
      expect(wrong.code).toBe('invalid_type');
    }
  });

  it('a bad endpoint → 400 invalid_value on param endpoint', async () => {
    for (const endpoint of ['/v1/images/generations', '/v1/chat/completion', 'chat', '']) {
      const err = await expectApiError(await post('/v1/batches', { ...validCreate(), endpoint }), 400);
      expect(err).toMatchObject({ type: 'invalid_request_error', param: 'endpoint', code: 'invalid_value' });
    }
    const viaClient = await stack.openai.batches
      .create({ ...validCreate(), endpoint: '/v1/nope' as '/v1/chat/completions', completion_window: '24h' })
      .catch((e: unknown) => e);
    expect(viaClient).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('every accepted endpoint is accepted', async () => {
    for (const endpoint of [
      '/v1/responses',
      '/v1/chat/completions',
      '/v1/embeddings',
      '/v1/completions',
      '/v1/moderations',
    ]) {
      const res = await post('/v1/batches', { ...validCreate(), endpoint });
      expect(res.status, await res.clone().text()).toBe(200);
      expect(((await res.json()) as Batch).endpoint).toBe(endpoint);
    }
  });

  it('a completion window not configured → 400 param completion_window', async () => {
    for (const completion_window of ['48h', '2h', '24', 'h', '', 'forever']) {
      const err = await expectApiError(
        await post('/v1/batches', { ...validCreate(), completion_window }),
        400,
      );
      expect(err.param).toBe('completion_window');
    }
  });

  it('an unknown input file → 404; a file of another purpose → 400', async () => {
    for (const id of ['file-doesnotexist', 'not-a-file', '../etc/passwd']) {
      const err = await expectApiError(
        await post('/v1/batches', { ...validCreate(), input_file_id: id }),
        404,
        'not_found_error',
      );
      expect(err.param).toBe('input_file_id');
    }
    const userFile = await stack.openai.files.create({
      file: await OpenAI.toFile(Buffer.from(toJsonl([chatLine('a', 'm', 'x')])), 'input.jsonl'),
      purpose: 'user_data',
    });
    const err = await expectApiError(
      await post('/v1/batches', { ...validCreate(), input_file_id: userFile.id }),
      400,
    );
    expect(err.param).toBe('input_file_id');
    // A deleted batch file is as good as unknown.
    const gone = await uploadJsonl(stack.openai, toJsonl([chatLine('a', 'm', 'x')]));
    await stack.openai.files.delete(gone.id);
    await expectApiError(
      await post('/v1/batches', { ...validCreate(), input_file_id: gone.id }),
      404,
      'not_found_error',
    );
  });

  it('metadata over the limits or not strings → 400', async () => {
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v']));
    const cases: [unknown, string | null][] = [
      [seventeen, null],
      [{ ['k'.repeat(65)]: 'v' }, null],
      [{ k: 'v'.repeat(513) }, null],
      [{ k: 1 }, 'invalid_type'],
      [{ k: true }, 'invalid_type'],
      [{ k: { nested: 'x' } }, 'invalid_type'],
      [{ k: null }, 'invalid_type'],
      ['a string', 'invalid_type'],
      [['v'], 'invalid_type'],
    ];
    for (const [metadata, code] of cases) {
      const err = await expectApiError(await post('/v1/batches', { ...validCreate(), metadata }), 400);
      expect(err.param ?? '', JSON.stringify(metadata).slice(0, 80)).toMatch(/^metadata/);
      if (code) expect(err.code).toBe(code);
    }
  });

  it('output_expires_after out of range → 400', async () => {
    for (const output_expires_after of [
      { anchor: 'created_at', seconds: 10 },
      { anchor: 'created_at', seconds: 2_592_001 },
      { anchor: 'completed_at', seconds: 3600 },
      { seconds: 3600 },
    ]) {
      const err = await expectApiError(
        await post('/v1/batches', { ...validCreate(), output_expires_after }),
        400,
      );
      expect(err.param ?? '').toMatch(/^output_expires_after/);
    }
  });

  it('malformed bodies → 400, never 500', async () => {
    const bodies: [string | undefined, Record<string, string>][] = [
      ['{not json', {}],
      ['', { 'content-type': 'application/json' }],
      ['[]', {}],
      ['"a string"', {}],
      ['null', {}],
      ['42', {}],
      [JSON.stringify({ ...validCreate(), input_file_id: 42 }), {}],
      [JSON.stringify({ ...validCreate(), endpoint: ['/v1/chat/completions'] }), {}],
      [JSON.stringify({ ...validCreate(), completion_window: 24 }), {}],
    ];
    for (const [body, headers] of bodies) {
      const res = await fetch(`${stack.apiUrl}/v1/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      const err = await expectApiError(res, 400);
      expect(err.message.length).toBeGreaterThan(0);
    }
    // Other content types are a 4xx too.
    for (const [ct, body] of [
      ['text/plain', 'input_file_id=x'],
      ['application/x-www-form-urlencoded', 'input_file_id=x'],
    ]) {
      const res = await fetch(`${stack.apiUrl}/v1/batches`, {
        method: 'POST',
        headers: { 'content-type': ct },
        body,
      });
      const text = await res.text();
      expect(res.status, text).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      const parsed = JSON.parse(text) as ErrorBody;
      expect(typeof parsed.error.message).toBe('string');
      expect(typeof parsed.error.type).toBe('string');
    }
    const noBody = await fetch(`${stack.apiUrl}/v1/batches`, { method: 'POST' });
    const text = await noBody.text();
    expect(noBody.status, text).toBe(400);
  });
});

/** Polls the list until it shows every id (visibility catches up asynchronously). */
async function listAll(): Promise<Batch[]> {
  const all: Batch[] = [];
  for await (const b of stack.openai.batches.list({ limit: 100 })) all.push(b as unknown as Batch);
  return all;
}

interface ListBody {
  object: string;
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

describe('batches.list', () => {
  it('newest first, walked to the end with the `after` cursor', async () => {
    // The Temporal server is shared by every test file, so other files' batches interleave:
    // assertions look at the whole walk's order and at where our own batches land in it.
    const early: Batch[] = [];
    for (let i = 0; i < 3; i++) early.push(await createRaw(validCreate()));
    await sleep(1100);
    const late: Batch[] = [];
    for (let i = 0; i < 3; i++) late.push(await createRaw(validCreate()));
    const mine = new Set([...early, ...late].map((b) => b.id));
    expect(Math.min(...late.map((b) => b.created_at))).toBeGreaterThan(
      Math.max(...early.map((b) => b.created_at)),
    );

    const deadline = Date.now() + 20_000;
    let snapshot: Batch[] = await listAll();
    while (snapshot.filter((b) => mine.has(b.id)).length < mine.size && Date.now() < deadline) {
      await sleep(200);
      snapshot = await listAll();
    }
    const mineInSnapshot = snapshot.filter((b) => mine.has(b.id));
    expect(mineInSnapshot).toHaveLength(6);
    // Newest first: our later three come before our earlier three.
    expect(new Set(mineInSnapshot.slice(0, 3).map((b) => b.id))).toEqual(new Set(late.map((b) => b.id)));

    for (const limit of [1, 2, 5]) {
      const walked: Batch[] = [];
      let after: string | null = null;
      for (let pages = 0; ; pages++) {
        expect(pages).toBeLessThan(1000);
        const q = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
        const res = await fetch(`${stack.apiUrl}/v1/batches?${q.toString()}`);
        expect(res.status).toBe(200);
        const page = (await res.json()) as ListBody;
        expect(page.object).toBe('list');
        expect(page.data.length).toBeLessThanOrEqual(limit);
        for (const b of page.data) expect(Object.keys(b).sort()).toEqual(BATCH_KEYS);
        expect(page.first_id).toBe(page.data[0]?.id ?? null);
        expect(page.last_id).toBe(page.data.at(-1)?.id ?? null);
        if (page.has_more) expect(page.data).toHaveLength(limit);
        walked.push(...page.data);
        if (!page.has_more) break;
        after = page.last_id;
      }
      // Never newer at a step, no id twice, and our six in the same order as the snapshot.
      for (let i = 1; i < walked.length; i++) {
        expect(walked[i].created_at).toBeLessThanOrEqual(walked[i - 1].created_at);
      }
      expect(new Set(walked.map((b) => b.id)).size).toBe(walked.length);
      expect(walked.filter((b) => mine.has(b.id)).map((b) => b.id)).toEqual(mineInSnapshot.map((b) => b.id));
      // Everything created before the walk began is in it (newer batches of other files may be too).
      const walkedIds = new Set(walked.map((b) => b.id));
      for (const b of snapshot) expect(walkedIds.has(b.id), b.id).toBe(true);
    }

    // A page after each of our batches holds exactly our older ones, in order, and nothing newer.
    // (Other files may add batches in the same second at any time, so only our own are compared.)
    for (let i = 0; i < mineInSnapshot.length; i++) {
      const cursor = mineInSnapshot[i];
      const page = (await (
        await fetch(`${stack.apiUrl}/v1/batches?limit=100&after=${cursor.id}`)
      ).json()) as ListBody;
      expect(page.data.map((b) => b.id)).not.toContain(cursor.id);
      for (const b of page.data) expect(b.created_at).toBeLessThanOrEqual(cursor.created_at);
      expect(page.data.filter((b) => mine.has(b.id)).map((b) => b.id)).toEqual(
        mineInSnapshot.slice(i + 1).map((b) => b.id),
      );
    }

    const viaClient = await stack.openai.batches.list({ limit: 2 });
    expect(viaClient.data).toHaveLength(2);
    expect(viaClient.has_more).toBe(true);
  });

  it('limit out of range → 400 param limit', async () => {
    for (const limit of ['0', '101', '-1', 'abc', '1.5']) {
      const err = await expectApiError(await fetch(`${stack.apiUrl}/v1/batches?limit=${limit}`), 400);
      expect(err.param).toBe('limit');
    }
    expect((await fetch(`${stack.apiUrl}/v1/batches?limit=100`)).status).toBe(200);
  });

  it('an unknown `after` cursor answers an empty page', async () => {
    const res = await fetch(`${stack.apiUrl}/v1/batches?after=batch_doesnotexist`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
  });
});

describe('retrieve and cancel', () => {
  it('unknown ids → 404 in the error shape', async () => {
    for (const id of ['batch_doesnotexist', 'nope', 'file-abc']) {
      await expectApiError(await fetch(`${stack.apiUrl}/v1/batches/${id}`), 404, 'not_found_error');
      await expectApiError(await post(`/v1/batches/${id}/cancel`), 404, 'not_found_error');
    }
    await expect(stack.openai.batches.retrieve('batch_doesnotexist')).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
    await expect(stack.openai.batches.cancel('batch_doesnotexist')).rejects.toBeInstanceOf(
      OpenAI.NotFoundError,
    );
  });

  it('cancelling a completed or failed batch → 409', async () => {
    const done = await waitForBatch(stack.openai, (await createRaw(validCreate())).id);
    expect(done.status).toBe('completed');
    const err = await expectApiError(await post(`/v1/batches/${done.id}/cancel`), 409);
    expect(err.message.length).toBeGreaterThan(0);
    const viaClient = await stack.openai.batches.cancel(done.id).catch((e: unknown) => e);
    expect(viaClient).toBeInstanceOf(OpenAI.ConflictError);
    // Nothing changed.
    const after = await stack.openai.batches.retrieve(done.id);
    expect(after.status).toBe('completed');
    expect(after.cancelling_at).toBeNull();

    const bad = await uploadJsonl(stack.openai, 'not json\n');
    const failed = await waitForBatch(
      stack.openai,
      (await createRaw({ ...validCreate(), input_file_id: bad.id })).id,
    );
    expect(failed.status).toBe('failed');
    await expectApiError(await post(`/v1/batches/${failed.id}/cancel`), 409);
  });

  it('cancel a running batch: cancelling, then cancelled; cancelling again → 200', async () => {
    const lines = Array.from({ length: 40 }, (_, i) => chatLine(`slow-${i}`, 'gpt-4o-mini', `slow ${i}`));
    const file = await uploadJsonl(stack.openai, toJsonl(lines));
    const created = await createRaw({ ...validCreate(), input_file_id: file.id });
    // Live counts while it runs: wait until a few requests are done.
    const running = await waitForBatch(
      stack.openai,
      created.id,
      (b) => b.status === 'in_progress' && b.request_counts.completed >= 2,
      30_000,
    );
    expect(running.request_counts.total).toBe(40);
    expect(running.in_progress_at).not.toBeNull();

    const { data: cancelling, response } = await stack.openai.batches.cancel(created.id).withResponse();
    expect(response.status).toBe(200);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).not.toBeNull();
    expect(Object.keys(cancelling).sort()).toEqual(BATCH_KEYS);

    // Cancelling while still cancelling is fine too.
    const again = await post(`/v1/batches/${created.id}/cancel`);
    expect(again.status).toBe(200);
    expect(['cancelling', 'cancelled']).toContain(((await again.json()) as Batch).status);

    const cancelled = await waitForBatch(stack.openai, created.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.cancelled_at).not.toBeNull();
    expect(cancelled.cancelled_at!).toBeGreaterThanOrEqual(cancelled.cancelling_at!);
    expect(cancelled.completed_at).toBeNull();
    expect(cancelled.request_counts.total).toBe(40);
    expect(cancelled.request_counts.completed + cancelled.request_counts.failed).toBe(40);
    expect(cancelled.request_counts.completed).toBeGreaterThanOrEqual(2);
    expect(cancelled.request_counts.failed).toBeGreaterThan(0);
    const output = await readResultFile(stack.openai, cancelled.output_file_id);
    const errors = await readResultFile(stack.openai, cancelled.error_file_id);
    expect(output).toHaveLength(cancelled.request_counts.completed);
    expect(errors).toHaveLength(cancelled.request_counts.failed);
    for (const e of errors) {
      expect(e.response).toBeNull();
      expect(e.error?.code).toBe('batch_cancelled');
    }

    const { data: second, response: secondResponse } = await stack.openai.batches
      .cancel(created.id)
      .withResponse();
    expect(secondResponse.status).toBe(200);
    expect(second.status).toBe('cancelled');
    expect(second.id).toBe(created.id);
    expect(second.cancelled_at).toBe(cancelled.cancelled_at);
  });
});

describe('service routes', () => {
  it('GET /health → 200 {status:"ok"}', async () => {
    const res = await fetch(`${stack.apiUrl}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('unknown routes → 404 in the error shape', async () => {
    await expectApiError(await fetch(`${stack.apiUrl}/v1/nope`), 404, 'not_found_error');
    await expectApiError(await fetch(`${stack.apiUrl}/v1/batches/x/y/z`), 404, 'not_found_error');
    await expectApiError(await post('/v1/batches/batch_x/uncancel'), 404, 'not_found_error');
    await expectApiError(
      await fetch(`${stack.apiUrl}/v1/batches`, { method: 'DELETE' }),
      404,
      'not_found_error',
    );
  });
});
