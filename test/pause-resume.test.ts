import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import { MISSING_LINE_MESSAGES } from '../src/domain/lines';
import { chatLine, createBatch, readResultFile, waitForBatch, type RequestLine } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// 4 requests at a time, 200 ms each: ~20 requests a second, so a batch of 200 runs ~10 s and can be
// paused, held and resumed well before it is done.
const MODEL_CONCURRENCY = 4;
const LATENCY_MS = 200;
const ROOT = resolve(__dirname, '..');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { COMPLETION_WINDOWS: '24h,8s', MODEL_CONCURRENCY: String(MODEL_CONCURRENCY), SEGMENT_SIZE: '10' },
    { latencyMs: LATENCY_MS },
  );
});
afterAll(async () => stack?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const linesFor = (prefix: string, n: number, models = ['gpt-4o-mini']): RequestLine[] =>
  Array.from({ length: n }, (_, i) =>
    chatLine(`${prefix}-${i}`, models[i % models.length], `${prefix} q ${i}`),
  );

/** POST /v1/batches/{id}/{action} with an empty body, as the openai clients' `post` sends it. */
async function post(id: string, action: 'pause' | 'resume' | 'cancel', body?: string) {
  const res = await fetch(`${stack.apiUrl}/v1/batches/${id}/${action}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body }),
  });
  return { status: res.status, body: (await res.json()) as Batch & { error?: Record<string, unknown> } };
}
async function pause(id: string): Promise<Batch> {
  const res = await post(id, 'pause');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return BatchSchema.parse(res.body);
}
async function resume(id: string): Promise<Batch> {
  const res = await post(id, 'resume', '{}');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return BatchSchema.parse(res.body);
}
const get = async (id: string) => (await stack.openai.batches.retrieve(id)) as unknown as Batch;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Once paused, the gateway drains: nothing in flight and, for a while after, no new call. */
async function expectQuiet(id: string): Promise<number> {
  // The pause reaches the children by signal, and their running chunks at the next heartbeat (≤ 1 s).
  await sleep(2500);
  await until('the in-flight requests to finish', () => stack.sim.batch(id).inFlight === 0);
  const calls = stack.sim.batch(id).calls;
  await sleep(1500);
  expect(stack.sim.batch(id).calls, 'a request started while paused').toBe(calls);
  expect(stack.sim.batch(id).inFlight).toBe(0);
  return calls;
}

/** Every input line exactly once across the files, and the gateway saw each custom_id at most once. */
async function expectEachOnce(done: Batch, lines: RequestLine[]) {
  const output = await readResultFile(stack.openai, done.output_file_id);
  const errors = await readResultFile(stack.openai, done.error_file_id);
  const ids = [...output, ...errors].map((l) => l.custom_id);
  expect(ids.length).toBe(lines.length);
  expect([...ids].sort()).toEqual(lines.map((l) => l.custom_id).sort());
  for (const [id, n] of Object.entries(stack.sim.records(done.id))) expect(n, `${id} sent twice`).toBe(1);
  expect(done.request_counts).toEqual({
    total: lines.length,
    completed: output.length,
    failed: errors.length,
  });
  return { output, errors };
}

describe('pause and resume', () => {
  it('holds a running batch (no request starts), keeps x_paused_at, then completes exactly once', async () => {
    const lines = linesFor('p', 200);
    const created = await createBatch(stack.openai, lines);
    expect(created.x_paused_at).toBeNull();
    await until('20 calls', () => stack.sim.batch(created.id).calls >= 20);

    const paused = await pause(created.id);
    expect(paused.status).toBe('in_progress');
    expect(paused.x_paused_at).toEqual(expect.any(Number));
    expect(Math.abs(paused.x_paused_at! - Date.now() / 1000)).toBeLessThan(30);
    const calls = await expectQuiet(created.id);
    expect(calls).toBeLessThan(lines.length);

    // Reads (GET, list) show the pause; the counts stop growing once the drained requests are in.
    await sleep(1500);
    const held = await get(created.id);
    expect(held.status).toBe('in_progress');
    expect(held.x_paused_at).toBe(paused.x_paused_at);
    await sleep(1000);
    expect((await get(created.id)).request_counts).toEqual(held.request_counts);
    // Chunks the pause cancelled report their finished lines when they run again after resume.
    expect(held.request_counts.completed).toBeLessThanOrEqual(calls);
    const listed = (await stack.openai.batches.list({ limit: 10 })).data as unknown as Batch[];
    expect(listed.find((b) => b.id === created.id)?.x_paused_at).toBe(paused.x_paused_at);

    // Pausing again is not an error: the same pause.
    const again = await pause(created.id);
    expect(again.x_paused_at).toBe(paused.x_paused_at);

    const resumed = await resume(created.id);
    expect(resumed.x_paused_at).toBeNull();
    expect(resumed.status).toBe('in_progress');
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    expect(done.x_paused_at).toBeNull();
    const { output } = await expectEachOnce(done, lines);
    expect(output).toHaveLength(lines.length);
    expect(stack.sim.batch(created.id).calls).toBe(lines.length);
  });

  it('pauses and resumes again and again, every model, with nothing sent twice', async () => {
    const lines = linesFor('r', 240, ['m-a', 'm-b', 'constructor']);
    const created = await createBatch(stack.openai, lines);
    for (let i = 0; i < 3; i++) {
      const at = stack.sim.batch(created.id).calls;
      await until('more calls', () => stack.sim.batch(created.id).calls >= at + 15);
      await pause(created.id);
      await expectQuiet(created.id);
      await resume(created.id);
    }
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    await expectEachOnce(done, lines);
    expect(stack.sim.batch(created.id).calls).toBe(lines.length);
  });

  it('resuming a batch that is not paused answers 200 and changes nothing', async () => {
    const lines = linesFor('n', 40);
    const created = await createBatch(stack.openai, lines);
    const answered = await resume(created.id);
    expect(answered.x_paused_at).toBeNull();
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
  });

  it('cancels a paused batch: it ends cancelled, the lines never run are batch_cancelled', async () => {
    const lines = linesFor('c', 200);
    const created = await createBatch(stack.openai, lines);
    await until('10 calls', () => stack.sim.batch(created.id).calls >= 10);
    await pause(created.id);
    const calls = await expectQuiet(created.id);

    const cancelling = (await stack.openai.batches.cancel(created.id)) as unknown as Batch;
    expect(cancelling.status).toBe('cancelling');
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    expect(done.x_paused_at).toBeNull();
    const { output, errors } = await expectEachOnce(done, lines);
    expect(output.length).toBe(calls);
    expect(errors.length).toBe(lines.length - calls);
    for (const line of errors)
      expect(line.error).toEqual({ code: 'batch_cancelled', message: MISSING_LINE_MESSAGES.batch_cancelled });
    expect(stack.sim.batch(created.id).calls).toBe(calls);

    // Now terminal: neither pause nor resume.
    for (const [action, code] of [
      ['pause', 'batch_not_pausable'],
      ['resume', 'batch_not_resumable'],
    ] as const) {
      const res = await post(created.id, action);
      expect(res.status).toBe(409);
      expect(res.body.error).toEqual({
        type: 'invalid_request_error',
        code,
        param: null,
        message: `Cannot ${action} a batch with status 'cancelled'.`,
      });
    }
  });

  it('a paused batch still expires at the end of its window', async () => {
    const lines = linesFor('e', 400);
    const created = await createBatch(stack.openai, lines, { completion_window: '8s' });
    await until('10 calls', () => stack.sim.batch(created.id).calls >= 10);
    await pause(created.id);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('expired');
    expect(done.x_paused_at).toBeNull();
    const { output, errors } = await expectEachOnce(done, lines);
    expect(output.length).toBe(stack.sim.batch(created.id).calls);
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) expect(line.error?.code).toBe('batch_expired');
  });

  it('pauses a batch while it is validating: it starts no request until resumed', async () => {
    // A larger input keeps the batch validating for a moment after the create.
    const lines = linesFor('v', 3000);
    const created = await createBatch(stack.openai, lines);
    const paused = await pause(created.id);
    expect(['validating', 'in_progress']).toContain(paused.status);
    expect(paused.x_paused_at).toEqual(expect.any(Number));
    await until('in_progress', async () => (await get(created.id)).status === 'in_progress');
    const running = await get(created.id);
    expect(running.x_paused_at).toBe(paused.x_paused_at);
    expect(running.request_counts.total).toBe(lines.length);
    await sleep(1500);
    // Paused while validating, no chunk ever started; paused just after, only the first in-flight ones.
    const calls = stack.sim.batch(created.id).calls;
    if (paused.status === 'validating') expect(calls).toBe(0);
    await sleep(1000);
    expect(stack.sim.batch(created.id).calls).toBe(calls);
    // Cancelled rather than run to the end (3000 requests): the pause is what this test is about.
    await stack.openai.batches.cancel(created.id);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    expect(done.request_counts.completed).toBe(calls);
  });

  it('answers 409 for a completed batch and 404 for an unknown one', async () => {
    const created = await createBatch(stack.openai, linesFor('t', 3));
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    const res = await post(created.id, 'pause', '{}');
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'batch_not_pausable', type: 'invalid_request_error' });
    expect((await post(created.id, 'resume')).body.error).toMatchObject({ code: 'batch_not_resumable' });

    for (const id of ['batch_00000000000000000000000000', 'constructor', '__proto__']) {
      for (const action of ['pause', 'resume'] as const) {
        const missing = await post(id, action);
        expect(missing.status, `${action} ${id}`).toBe(404);
        expect(missing.body.error).toMatchObject({ type: 'not_found_error' });
      }
    }
  });

  it('obeys the Temporal `pause` and `resume` signals (as a Web UI user sends them)', async () => {
    const lines = linesFor('w', 160);
    const created = await createBatch(stack.openai, lines);
    await until('10 calls', () => stack.sim.batch(created.id).calls >= 10);
    const handle = stack.client.workflow.getHandle(created.id);
    await handle.signal('pause');
    await until('x_paused_at', async () => (await get(created.id)).x_paused_at !== null);
    await expectQuiet(created.id);
    await handle.signal('resume');
    await until('x_paused_at cleared', async () => (await get(created.id)).x_paused_at === null);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    await expectEachOnce(done, lines);
  });

  it('the openai Python client pauses and resumes with client.post', async () => {
    const created = await createBatch(stack.openai, linesFor('py', 160));
    await until('10 calls', () => stack.sim.batch(created.id).calls >= 10);
    const script = [
      'import json, os',
      'from openai import OpenAI',
      'from openai.types import Batch',
      'client = OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key="test-key", max_retries=0)',
      'bid = os.environ["BATCH_ID"]',
      // The typed Batch keeps our x_ fields as extras.
      'p = client.post(f"/batches/{bid}/pause", cast_to=Batch).model_dump()',
      'r = client.post(f"/batches/{bid}/resume", cast_to=Batch).model_dump()',
      'print(json.dumps({"paused": p, "resumed": r}))',
    ].join('\n');
    const out = await new Promise<string>((res, rej) => {
      const child = spawn(resolve(ROOT, '.venv/bin/python'), ['-c', script], {
        env: { ...process.env, OPENAI_BASE_URL: `${stack.apiUrl}/v1`, BATCH_ID: created.id },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.once('exit', (code) => (code === 0 ? res(text) : rej(new Error(text))));
    });
    const { paused, resumed } = JSON.parse(out.trim().split('\n').pop()!) as {
      paused: Batch;
      resumed: Batch;
    };
    expect(paused.x_paused_at).toEqual(expect.any(Number));
    expect(paused.status).toBe('in_progress');
    expect(resumed.x_paused_at).toBeNull();
    expect((await waitForBatch(stack.openai, created.id)).status).toBe('completed');
  });
});
