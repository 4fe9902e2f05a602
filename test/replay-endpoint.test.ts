import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { expectApiError } from './harness/api-errors';
import {
  chatLine,
  createBatch,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type RequestLine,
  type ResultLineJson,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Dead-letter replay (POST /v1/batches/{id}/replay). Two attempts per request keep the 500s
// quick; gpt-4o runs one request at a time so a batch of slow lines can be caught running.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    MAX_ATTEMPTS: '2',
    REQUEST_TIMEOUT_MS: '5000',
    MODEL_CONCURRENCY_OVERRIDES: '{"gpt-4o":1}',
    COMPLETION_WINDOWS: '24h,1h',
  });
});
afterAll(async () => stack?.close());

const post = (path: string, body?: unknown): Promise<Response> =>
  fetch(`${stack.apiUrl}${path}`, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

async function replay(id: string, body?: unknown): Promise<Batch> {
  const res = await post(`/v1/batches/${id}/replay`, body);
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Batch;
}

const retrieve = async (id: string) => (await stack.openai.batches.retrieve(id)) as unknown as Batch;

/** The request lines of a batch's input file, as stored. */
async function inputLines(fileId: string): Promise<RequestLine[]> {
  const text = await (await stack.openai.files.content(fileId)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RequestLine);
}

const byCustomId = (lines: ResultLineJson[]) => new Map(lines.map((l) => [l.custom_id, l]));

// Interleaved successes, policy blocks (409, never retried) and server errors (500 on every attempt).
const ok = [0, 1, 2, 3].map((i) => chatLine(`ok-${i}`, 'gpt-4o-mini', `fine ${i}`));
const blocked = [0, 1, 2].map((i) => {
  const line = chatLine(`blk-${i}`, 'gpt-4o-mini', `blocked ${i} #sim:409`);
  // Extra body fields must come back unchanged in the replay.
  return { ...line, body: { ...line.body, temperature: 0.25, seed: i } };
});
const broken = [0, 1, 2].map((i) => chatLine(`err-${i}`, 'gpt-4o-mini', `broken ${i} #sim:500`));
const lines: RequestLine[] = [
  ok[0],
  blocked[0],
  broken[0],
  ok[1],
  blocked[1],
  broken[1],
  ok[2],
  blocked[2],
  broken[2],
  ok[3],
];
const failed = lines.filter((l) => !l.custom_id.startsWith('ok-'));

let original: Batch;
beforeAll(async () => {
  const created = await createBatch(stack.openai, lines, { metadata: { team: 'dq' } });
  original = await waitForBatch(stack.openai, created.id);
});

describe('POST /v1/batches/{id}/replay', () => {
  it('replays exactly the failed lines, with the original requests, linked both ways', async () => {
    expect(original.status).toBe('completed');
    expect(original.request_counts).toEqual({ total: 10, completed: 4, failed: 6 });

    const r = await replay(original.id);
    expect(r).toMatchObject({
      object: 'batch',
      status: 'validating',
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: { team: 'dq' },
      x_replay_of: original.id,
      x_replays: [],
    });
    expect(r.expires_at).toBe(r.created_at + 24 * 3600);
    expect(r.input_file_id).not.toBe(original.input_file_id);
    const file = await stack.openai.files.retrieve(r.input_file_id);
    expect(file).toMatchObject({ filename: `${original.id}_replay.jsonl`, purpose: 'batch' });
    // The original request lines, in input order, byte-for-byte in meaning (extra body fields too).
    expect(await inputLines(r.input_file_id)).toEqual(failed);

    const done = await waitForBatch(stack.openai, r.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 6, completed: 0, failed: 6 });
    expect(done.x_replay_of).toBe(original.id);
    // The gateway saw exactly the failed records, under the replay's batch id.
    const calls = stack.sim.records(r.id);
    expect(Object.keys(calls).sort()).toEqual(failed.map((l) => l.custom_id).sort());
    for (const l of blocked) expect(calls[l.custom_id]).toBe(1);
    for (const l of broken) expect(calls[l.custom_id]).toBe(2);
    const errors = byCustomId(await readResultFile(stack.openai, done.error_file_id));
    for (const l of blocked) expect(errors.get(l.custom_id)?.response?.status_code).toBe(409);
    for (const l of broken) expect(errors.get(l.custom_id)?.response?.status_code).toBe(500);

    // The way back: retrieve and list both show the replay on the original.
    expect((await retrieve(original.id)).x_replays).toEqual([r.id]);
    const page = await stack.openai.batches.list({ limit: 100 });
    const listed = page.data.find((b) => b.id === original.id) as unknown as Batch;
    expect(listed.x_replays).toEqual([r.id]);
  });

  it('takes only the lines matching `codes` (status code, error code or governance outcome)', async () => {
    const before = (await retrieve(original.id)).x_replays;
    const onlyBlocked = await replay(original.id, { codes: ['409'] });
    expect(await inputLines(onlyBlocked.input_file_id)).toEqual(blocked);

    const onlyErrored = await replay(original.id, {
      codes: ['errored'],
      completion_window: '1h',
      metadata: { run: '2' },
    });
    expect(onlyErrored).toMatchObject({ completion_window: '1h', metadata: { run: '2' } });
    expect(onlyErrored.expires_at).toBe(onlyErrored.created_at + 3600);
    expect(await inputLines(onlyErrored.input_file_id)).toEqual(broken);

    const both = await replay(original.id, { codes: ['blocked', '500'], metadata: null });
    expect(both.metadata).toBeNull();
    expect(await inputLines(both.input_file_id)).toEqual(failed);

    const blockedDone = await waitForBatch(stack.openai, onlyBlocked.id);
    expect(blockedDone.request_counts).toEqual({ total: 3, completed: 0, failed: 3 });
    expect(blockedDone.x_governance.blocked).toBe(3);
    await waitForBatch(stack.openai, onlyErrored.id);
    await waitForBatch(stack.openai, both.id);
    expect((await retrieve(original.id)).x_replays).toEqual([
      ...before,
      onlyBlocked.id,
      onlyErrored.id,
      both.id,
    ]);
  });

  it('records every one of concurrent replays of the same batch', async () => {
    const before = (await retrieve(original.id)).x_replays;
    const replays = await Promise.all([1, 2, 3].map(() => replay(original.id, { codes: ['409'] })));
    const ids = replays.map((b) => b.id);
    expect(new Set(ids).size).toBe(3);
    const after = (await retrieve(original.id)).x_replays;
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.slice(before.length).sort()).toEqual([...ids].sort());
    for (const id of ids) await waitForBatch(stack.openai, id);
  });

  it('refuses a running batch (409), then replays the requests its cancellation left unrun', async () => {
    const slow = [0, 1, 2, 3, 4].map((i) => chatLine(`slow-${i}`, 'gpt-4o', `slow ${i} #sim:delay=400`));
    // Created with governance options, which the replay must carry over.
    const input = await uploadJsonl(stack.openai, toJsonl(slow));
    const created = await post('/v1/batches', {
      input_file_id: input.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      x_max_tokens: 1_000_000,
      x_quality_thresholds: { min_completeness: 0.5, min_consistency: 0.4 },
    });
    expect(created.status).toBe(200);
    const running = (await created.json()) as Batch;
    const err = await expectApiError(await post(`/v1/batches/${running.id}/replay`), 409);
    expect(err.code).toBe('batch_not_finished');

    await stack.openai.batches.cancel(running.id);
    const cancelled = await waitForBatch(stack.openai, running.id);
    expect(cancelled.status).toBe('cancelled');
    const notRun = (await readResultFile(stack.openai, cancelled.error_file_id))
      .filter((l) => l.error?.code === 'batch_cancelled')
      .map((l) => l.custom_id);
    expect(notRun.length).toBeGreaterThan(0);

    const r = await replay(running.id, { codes: ['batch_cancelled'] });
    expect(r.x_budget).toEqual({ max_tokens: 1_000_000, used_tokens: 0, exceeded: false });
    expect(r.x_quality).toMatchObject({ min_completeness: 0.5, min_consistency: 0.4 });
    const done = await waitForBatch(stack.openai, r.id);
    expect(done.request_counts).toEqual({ total: notRun.length, completed: notRun.length, failed: 0 });
    // The simulator echoes the user message: the replay sent the original bodies.
    const out = byCustomId(await readResultFile(stack.openai, done.output_file_id));
    expect([...out.keys()].sort()).toEqual([...notRun].sort());
    for (const id of notRun) {
      const i = Number(id.split('-')[1]);
      const body = out.get(id)?.response?.body as { choices: { message: { content: string } }[] };
      expect(body.choices[0].message.content).toBe(`echo: slow ${i} #sim:delay=400`);
    }
    expect((await retrieve(running.id)).x_replays).toEqual([r.id]);
  });

  it('answers 404 for an unknown batch and 400 when nothing matches', async () => {
    const unknown = await expectApiError(
      await post('/v1/batches/batch_doesnotexist000000000000/replay'),
      404,
      'not_found_error',
    );
    expect(unknown.param).toBe('id');
    await expectApiError(await post('/v1/batches/nope/replay'), 404, 'not_found_error');

    const clean = await createBatch(stack.openai, [chatLine('a', 'gpt-4o-mini', 'all good')]);
    await waitForBatch(stack.openai, clean.id);
    const none = await expectApiError(await post(`/v1/batches/${clean.id}/replay`), 400);
    expect(none.code).toBe('nothing_to_replay');

    const noMatch = await expectApiError(
      await post(`/v1/batches/${original.id}/replay`, { codes: ['429'] }),
      400,
    );
    expect(noMatch).toMatchObject({ code: 'nothing_to_replay', param: 'codes' });
    expect((await retrieve(clean.id)).x_replays).toEqual([]);
  });

  it('rejects a bad body with 400 and creates nothing', async () => {
    const before = (await retrieve(original.id)).x_replays;
    const path = `/v1/batches/${original.id}/replay`;
    expect(await expectApiError(await post(path, { codes: '409' }), 400)).toMatchObject({
      param: 'codes',
      code: 'invalid_type',
    });
    expect((await expectApiError(await post(path, { codes: [] }), 400)).param).toBe('codes');
    expect((await expectApiError(await post(path, { codes: [409] }), 400)).param).toBe('codes.0');
    expect(await expectApiError(await post(path, { code: ['409'] }), 400)).toMatchObject({
      param: 'code',
      code: 'unknown_parameter',
    });
    expect((await expectApiError(await post(path, { completion_window: '7d' }), 400)).param).toBe(
      'completion_window',
    );
    expect((await expectApiError(await post(path, { metadata: { a: 1 } }), 400)).param).toBe('metadata.a');
    await expectApiError(await post(path, [1, 2]), 400);
    await expectApiError(await post(path, 'not json'), 400);
    expect((await retrieve(original.id)).x_replays).toEqual(before);
  });
});
