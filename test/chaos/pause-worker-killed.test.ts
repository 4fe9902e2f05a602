import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Batch } from '../../src/domain/batch';
import { chatLine, readResultFile, toJsonl, uploadJsonl, waitForBatch } from '../harness/batches';
import { startProcessStack, type ProcessStack } from '../harness/process-stack';

// A pause outlives its worker: the worker process is killed with SIGKILL while the batch is paused
// (and once while the pause is still draining its chunks), a new worker starts, the batch is
// resumed, and it completes with every line once and no request sent twice.
let stack: ProcessStack;
beforeAll(async () => {
  stack = await startProcessStack({
    temporalAddress: inject('temporalAddress'),
    workers: 1,
    env: { SEGMENT_SIZE: '10', MODEL_CONCURRENCY: '4' },
    sim: { latencyMs: 200 },
  });
});
afterAll(async () => stack?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const apiUrl = () => stack.openai.baseURL.replace(/\/v1$/, '');
async function post(id: string, action: 'pause' | 'resume'): Promise<Batch> {
  const res = await fetch(`${apiUrl()}/v1/batches/${id}/${action}`, { method: 'POST' });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Batch;
}

async function expectExact(done: Batch, n: number) {
  expect(done.status).toBe('completed');
  expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
  const output = await readResultFile(stack.openai, done.output_file_id);
  expect(new Set(output.map((l) => l.custom_id)).size).toBe(n);
  expect(output).toHaveLength(n);
}

describe('pause × worker crash', () => {
  it('a batch paused, its worker killed, resumed on a new worker: completes exactly once', async () => {
    const n = 200;
    const lines = Array.from({ length: n }, (_, i) => chatLine(`k-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}`));
    const file = await uploadJsonl(stack.openai, toJsonl(lines));
    const created = (await stack.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    })) as unknown as Batch;
    await until('20 calls', () => stack.sim.batch(created.id).calls >= 20);
    const paused = await post(created.id, 'pause');
    expect(paused.x_paused_at).toEqual(expect.any(Number));
    // The pause reaches the chunks within about a second (signal, then heartbeat); then they drain.
    await sleep(2500);
    await until('drained', () => stack.sim.batch(created.id).inFlight === 0);
    const calls = stack.sim.batch(created.id).calls;
    await sleep(1000);
    expect(stack.sim.batch(created.id).calls, 'a request started while paused').toBe(calls);
    await stack.workers[0].kill9();

    // No worker: reads still show the pause (from the memo), and nothing is sent.
    await sleep(1500);
    const held = (await stack.openai.batches.retrieve(created.id)) as unknown as Batch;
    expect(held.x_paused_at).toBe(paused.x_paused_at);
    expect(stack.sim.batch(created.id).calls).toBe(calls);
    // Without a worker the API falls back to the signals (as cancel does): resume, then pause again.
    expect((await post(created.id, 'resume')).x_paused_at).toBeNull();
    expect((await post(created.id, 'pause')).x_paused_at).toEqual(expect.any(Number));

    // A new worker picks the paused batch up and keeps it paused until the resume.
    await stack.addWorker();
    await sleep(2000);
    expect(stack.sim.batch(created.id).calls).toBe(calls);
    // The new worker handles both signals in order (once the dead worker's task has timed out):
    // paused again, since the second one.
    await until('the second pause', async () => {
      const again = (await stack.openai.batches.retrieve(created.id)) as unknown as Batch;
      return again.x_paused_at !== null && again.x_paused_at > paused.x_paused_at!;
    });
    expect(stack.sim.batch(created.id).calls).toBe(calls);
    const resumed = await post(created.id, 'resume');
    expect(resumed.x_paused_at).toBeNull();
    await expectExact(await waitForBatch(stack.openai, created.id, undefined, 120_000), n);
    for (const [id, c] of Object.entries(stack.sim.records(created.id))) expect(c, id).toBe(1);
  });

  it('a worker killed while the pause drains: its chunks run again after resume, nothing lost', async () => {
    const n = 200;
    const lines = Array.from({ length: n }, (_, i) => chatLine(`d-${i}`, 'm-a', `line ${i}`));
    const file = await uploadJsonl(stack.openai, toJsonl(lines));
    const created = (await stack.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    })) as unknown as Batch;
    await until('20 calls', () => stack.sim.batch(created.id).calls >= 20);
    await post(created.id, 'pause');
    // Killed at once: the chunks' cancellation never completes; they time out (heartbeat) instead.
    await stack.workers[stack.workers.length - 1].kill9();
    await stack.addWorker();
    await sleep(12_000); // past the chunks' 10 s heartbeat timeout
    const calls = stack.sim.batch(created.id).calls;
    await sleep(1500);
    expect(stack.sim.batch(created.id).calls, 'a request started while paused').toBe(calls);
    await post(created.id, 'resume');
    const done = await waitForBatch(stack.openai, created.id, undefined, 120_000);
    // Requests in flight at the kill may reach the gateway again (as after any crash); none is lost.
    await expectExact(done, n);
  });
});
