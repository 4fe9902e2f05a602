// Item 15: an Idempotency-Key on POST /v1/batches gives one batch (one workflow, each request sent
// once) however often and however concurrently it is retried, for the key's lifetime; and every
// upstream call carries `Idempotency-Key: <batch_id>:<custom_id>` unless turned off.
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchService } from '../src/api/batch-service';
import { buildApiServer } from '../src/api/server';
import { loadConfig } from '../src/config';
import type { Batch } from '../src/domain/batch';
import { FileRepository } from '../src/storage/file-repository';
import { secretBoxFor } from '../src/security/secret-box';
import { expectApiError, sleep } from './harness/api-errors';
import { chatLine, readResultFile, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

const LINES = 12;
let stack: Stack;
let inputFileId: string;
beforeAll(async () => {
  stack = await startStack({ MODEL_CONCURRENCY: '4' }, { latencyMs: 20 });
  // One custom_id is not header-safe as is (it is percent-encoded in both X-Record-Id and the key).
  const lines = Array.from({ length: LINES }, (_, i) =>
    chatLine(i === 0 ? 'café-0' : `req-${i}`, 'gpt-4o-mini', `item ${i}`),
  );
  inputFileId = (await uploadJsonl(stack.openai, toJsonl(lines))).id;
});
afterAll(async () => stack?.close());

const body = (extra: Record<string, unknown> = {}) => ({
  input_file_id: inputFileId,
  endpoint: '/v1/chat/completions',
  completion_window: '24h',
  ...extra,
});

function create(apiUrl: string, key: string | null, payload: unknown = body()): Promise<Response> {
  return fetch(`${apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'Idempotency-Key': key }) },
    body: JSON.stringify(payload),
  });
}

async function created(res: Response): Promise<Batch> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text) as Batch;
}

const uniqueKey = (name: string) => `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}`;

/** Runs of a workflow id: REJECT_DUPLICATE means there is never a second one. */
async function runsOf(id: string): Promise<number> {
  for (let i = 0; ; i++) {
    const { count } = await stack.client.workflow.count(`WorkflowId = '${id}'`);
    if (count > 0 || i > 50) return count;
    await sleep(100);
  }
}

/** The batch ran to completion, every custom_id went upstream exactly once, each with its key. */
async function expectRanOnce(id: string): Promise<void> {
  const done = await waitForBatch(stack.openai, id);
  expect(done.status).toBe('completed');
  expect(done.request_counts).toEqual({ total: LINES, completed: LINES, failed: 0 });
  const sim = stack.sim.batch(id);
  expect(sim.calls).toBe(LINES);
  expect(sim.records).toBe(LINES);
  expect(sim.maxCallsPerRecord).toBe(1);
  expect(sim.missingIdempotencyKey).toBe(0);
  expect(sim.foreignIdempotencyKeys).toBe(0);
  expect(sim.idempotencyKeys).toBe(LINES);
  const output = await readResultFile(stack.openai, done.output_file_id);
  expect(new Set(output.map((l) => l.custom_id)).size).toBe(LINES);
}

describe('Idempotency-Key on POST /v1/batches', () => {
  it('sequential retries with the same key answer the same batch; one workflow; each request sent once', async () => {
    const key = uniqueKey('seq');
    const first = await created(await create(stack.apiUrl, key));
    // Key order in the body does not matter; the answer is the batch as it is now.
    const reordered = {
      completion_window: '24h',
      endpoint: '/v1/chat/completions',
      input_file_id: inputFileId,
    };
    const second = await created(await create(stack.apiUrl, key, reordered));
    expect(second.id).toBe(first.id);
    expect(second.created_at).toBe(first.created_at);
    await expectRanOnce(first.id);
    // Also after the batch finished: the same (now completed) batch, still one run.
    const third = await created(await create(stack.apiUrl, key));
    expect(third.id).toBe(first.id);
    expect(third.status).toBe('completed');
    expect(await runsOf(first.id)).toBe(1);
  });

  it('a concurrent pair with one key makes one batch', async () => {
    const key = uniqueKey('pair');
    const [a, b] = await Promise.all([create(stack.apiUrl, key), create(stack.apiUrl, key)]);
    const [ba, bb] = [await created(a), await created(b)];
    expect(ba.id).toBe(bb.id);
    await expectRanOnce(ba.id);
    expect(await runsOf(ba.id)).toBe(1);
  });

  it('a different key, or no key, makes a new batch', async () => {
    const one = await created(await create(stack.apiUrl, uniqueKey('a')));
    const two = await created(await create(stack.apiUrl, uniqueKey('b')));
    const three = await created(await create(stack.apiUrl, null));
    const four = await created(await create(stack.apiUrl, null));
    expect(new Set([one.id, two.id, three.id, four.id]).size).toBe(4);
  });

  it('the same key with other parameters → 422 idempotency_key_reused; the first batch is untouched', async () => {
    const key = uniqueKey('mismatch');
    const first = await created(await create(stack.apiUrl, key, body({ metadata: { run: '1' } })));
    const err = await expectApiError(await create(stack.apiUrl, key, body({ metadata: { run: '2' } })), 422);
    expect(err.code).toBe('idempotency_key_reused');
    expect(err.message).toContain(first.id);
    const again = await created(await create(stack.apiUrl, key, body({ metadata: { run: '1' } })));
    expect(again.id).toBe(first.id);
    expect(again.metadata).toEqual({ run: '1' });
    // Through the official client: a typed error, not retried as a 409 would be.
    const viaClient = await stack.openai.batches
      .create(body({ metadata: { run: '3' } }) as never, { headers: { 'Idempotency-Key': key } })
      .catch((e: unknown) => e);
    expect((viaClient as { status?: number }).status).toBe(422);
  });

  it('a malformed key → 400 in the error shape', async () => {
    // Too long, empty, a control character, a byte beyond ASCII.
    for (const key of ['x'.repeat(256), ' ', 'tab\there', 'cl\u00e9']) {
      const err = await expectApiError(await create(stack.apiUrl, key), 400);
      expect(err.param).toBe('Idempotency-Key');
    }
  });

  it('a retry after the API died between starting the workflow and answering gets that batch', async () => {
    // A second API process on the same Temporal and storage whose first keyed create starts the
    // workflow and then dies before answering (the socket is destroyed instead of the reply).
    const dying = await secondApi(stack, 86_400, true);
    try {
      const key = uniqueKey('crash');
      const lost = await create(dying.url, key).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(Error); // the client saw no answer
      const retried = await created(await create(stack.apiUrl, key));
      await expectRanOnce(retried.id);
      expect(await runsOf(retried.id)).toBe(1);
      // Exactly one batch was started with this key: it is the one the dead attempt started.
      const { count } = await stack.client.workflow.count(
        `WorkflowType = 'batchWorkflow' AND WorkflowId = '${retried.id}'`,
      );
      expect(count).toBe(1);
    } finally {
      await dying.app.close();
    }
  });

  it('a key lives for IDEMPOTENCY_KEY_TTL_S: same batch within it (across a key window), a new one after', async () => {
    const ttl = 3;
    const api = await secondApi(stack, ttl, false);
    try {
      const key = uniqueKey('ttl');
      // Create in the last second of a key window, retry in the next window: still the same batch.
      while (Math.floor(Date.now() / 1000) % ttl !== ttl - 1) await sleep(50);
      const first = await created(await create(api.url, key));
      while (Math.floor(Date.now() / 1000) % ttl === ttl - 1) await sleep(50);
      expect(Math.floor(Date.now() / 1000) - first.created_at).toBeLessThan(ttl);
      const within = await created(await create(api.url, key));
      expect(within.id).toBe(first.id);
      // Past the ttl: a new batch, which is then the key's batch.
      while (Math.floor(Date.now() / 1000) - first.created_at < ttl) await sleep(100);
      const after = await created(await create(api.url, key));
      expect(after.id).not.toBe(first.id);
      const afterAgain = await created(await create(api.url, key));
      expect(afterAgain.id).toBe(after.id);
      // Even with other parameters once the ttl has passed (the key is free again).
      while (Math.floor(Date.now() / 1000) - after.created_at < ttl) await sleep(100);
      const other = await created(await create(api.url, key, body({ metadata: { new: 'yes' } })));
      expect(new Set([first.id, after.id, other.id]).size).toBe(3);
    } finally {
      await api.app.close();
    }
  });
});

describe('upstream Idempotency-Key header', () => {
  it('every call carries <batch_id>:<custom_id> (custom_id header-safe)', async () => {
    const b = await created(await create(stack.apiUrl, null));
    await expectRanOnce(b.id);
    const last = stack.sim.batch(b.id).lastHeaders!;
    const key = last['idempotency-key'] as string;
    expect(key.startsWith(`${b.id}:`)).toBe(true);
    expect(key).toBe(`${b.id}:${last['x-record-id'] as string}`);
  });

  it('UPSTREAM_IDEMPOTENCY_HEADER="" sends none; the config takes empty, off or a header name', async () => {
    expect(loadConfig({}).UPSTREAM_IDEMPOTENCY_HEADER).toBe('Idempotency-Key');
    expect(loadConfig({ UPSTREAM_IDEMPOTENCY_HEADER: '' }).UPSTREAM_IDEMPOTENCY_HEADER).toBe('');
    expect(loadConfig({ UPSTREAM_IDEMPOTENCY_HEADER: 'off' }).UPSTREAM_IDEMPOTENCY_HEADER).toBe('');
    expect(loadConfig({ UPSTREAM_IDEMPOTENCY_HEADER: 'X-Dedupe' }).UPSTREAM_IDEMPOTENCY_HEADER).toBe(
      'X-Dedupe',
    );
    expect(() => loadConfig({ UPSTREAM_IDEMPOTENCY_HEADER: 'not a header' })).toThrow(
      /UPSTREAM_IDEMPOTENCY_HEADER/,
    );

    const off = await startStack({ UPSTREAM_IDEMPOTENCY_HEADER: '' }, { latencyMs: 5 });
    try {
      const file = await uploadJsonl(off.openai, toJsonl([chatLine('a', 'm', 'x'), chatLine('b', 'm', 'y')]));
      const b = await off.openai.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      expect((await waitForBatch(off.openai, b.id)).status).toBe('completed');
      const sim = off.sim.batch(b.id);
      expect(sim.calls).toBe(2);
      expect(sim.missingIdempotencyKey).toBe(2);
      expect(sim.lastHeaders!['idempotency-key']).toBeUndefined();
    } finally {
      await off.close();
    }
  });
});

/** Another API server over the stack's Temporal client and storage; optionally dying on its first create. */
async function secondApi(
  s: Stack,
  ttlS: number,
  dieOnFirstCreate: boolean,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = await buildApiServer({
    store: s.store,
    files: new FileRepository(s.store),
    batches: new BatchService(s.client, s.config.TEMPORAL_TASK_QUEUE, s.store, ttlS),
    maxUploadBytes: s.config.MAX_UPLOAD_BYTES,
    completionWindows: s.config.COMPLETION_WINDOWS,
    passthroughHeaders: [],
    secrets: secretBoxFor(s.config),
    logLevel: 'silent',
  });
  let died = false;
  if (dieOnFirstCreate) {
    app.addHook('onSend', async (req, _reply, payload) => {
      if (!died && req.method === 'POST' && req.url === '/v1/batches') {
        died = true;
        req.raw.socket.destroy();
      }
      return payload;
    });
  }
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url };
}
