// Item 14: with no worker running (a deploy, a crash loop), GET /v1/batches/{id}, GET /v1/batches
// and cancel still answer at once — status and counts as of the last progress, from the workflow's
// memo — and the cancel takes effect when a worker returns. API and workers are real processes.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { startSimulator, type Simulator } from '../src/simulator/server';
import { sleep } from './harness/api-errors';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { freePort } from './harness/ports';
import { spawnEntry, WORKER_NODE_FLAGS, type Proc } from './harness/processes';

const N = 80;
let sim: Simulator;
let dataDir: string;
let env: Record<string, string>;
let api: Proc;
let openai: OpenAI;
const procs: Proc[] = [];

const startWorker = async () => {
  const w = await spawnEntry('worker', 'src/main/worker.ts', env, /polling task queue/, WORKER_NODE_FLAGS);
  procs.push(w);
  return w;
};

beforeAll(async () => {
  // 300 ms a call, 2 at a time: the batch takes ~12 s, long enough to stop the worker mid-run.
  sim = await startSimulator({ port: 0, latencyMs: 300 });
  dataDir = mkdtempSync(join(tmpdir(), 'batchgw-noworker-'));
  const port = await freePort();
  env = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `noworker-${randomBytes(6).toString('hex')}`,
    DATA_DIR: dataDir,
    GATEWAY_URL: sim.url,
    PORT: String(port),
    MODEL_CONCURRENCY: '2',
    GLOBAL_CONCURRENCY: '2',
    SEGMENT_SIZE: '2',
    LOG_LEVEL: 'warn',
  };
  api = await spawnEntry('api', 'src/main/api.ts', env, /listening on/);
  procs.push(api);
  // A client that gives up after 5 s: on main, reads and cancel waited on a worker past that.
  openai = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'x', timeout: 5000, maxRetries: 0 });
});

afterAll(async () => {
  for (const p of procs) await p.stop();
  await sim?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

describe('reads and cancel without a worker', () => {
  it('retrieve, list and cancel answer within 2 s while no worker runs; the cancel lands when one returns', async () => {
    const worker = await startWorker();
    const lines = Array.from({ length: N }, (_, i) => chatLine(`r-${i}`, 'gpt-4o-mini', `item ${i}`));
    const created = await createBatch(openai, lines);
    const running = await waitForBatch(
      openai,
      created.id,
      (b) => b.status === 'in_progress' && b.request_counts.completed >= 6,
      60_000,
    );
    expect(running.request_counts.total).toBe(N);

    // A deploy: the only worker goes away (SIGTERM, its chunks stop after their in-flight calls).
    await worker.stop();
    const callsAtStop = sim.batch(created.id).calls;

    const got = await timed(() => openai.batches.retrieve(created.id));
    expect(got.ms).toBeLessThan(2000);
    const seen = got.value as unknown as Batch;
    expect(seen.status).toBe('in_progress');
    expect(seen.request_counts.total).toBe(N);
    // As of the last progress: at least what was seen before the stop, never more than was sent.
    expect(seen.request_counts.completed).toBeGreaterThanOrEqual(running.request_counts.completed);
    expect(seen.request_counts.completed).toBeLessThanOrEqual(callsAtStop);

    const listed = await timed(() => openai.batches.list({ limit: 20 }));
    expect(listed.ms).toBeLessThan(2000);
    const inList = listed.value.data.find((b) => b.id === created.id);
    expect(inList?.status).toBe('in_progress');
    expect(inList?.request_counts).toEqual(seen.request_counts);

    const cancelled = await timed(() => openai.batches.cancel(created.id));
    expect(cancelled.ms).toBeLessThan(2000);
    expect(cancelled.value.status).toBe('cancelling');
    expect(cancelled.value.cancelling_at).not.toBeNull();
    // Cancelling again while it waits for a worker is fine too.
    const again = await timed(() => openai.batches.cancel(created.id));
    expect(again.ms).toBeLessThan(2000);
    expect(again.value.status).toBe('cancelling');

    // Nothing runs meanwhile.
    await sleep(1500);
    expect(sim.batch(created.id).calls).toBe(callsAtStop);

    // A worker returns on the same task queue: the cancel takes effect.
    const t0 = Date.now();
    await startWorker();
    const done = await waitForBatch(openai, created.id, undefined, 90_000);
    const tookMs = Date.now() - t0;
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).not.toBeNull();
    expect(done.request_counts.total).toBe(N);
    expect(done.request_counts.completed + done.request_counts.failed).toBe(N);
    expect(done.request_counts.completed).toBeGreaterThanOrEqual(seen.request_counts.completed);
    expect(done.request_counts.failed).toBeGreaterThan(0);
    // Far fewer calls than lines: the returning worker did not run the rest of the batch.
    expect(sim.batch(created.id).calls).toBeLessThan(N);

    // Every line accounted once: in the output or the error file, never both, never twice.
    const output = await readResultFile(openai, done.output_file_id);
    const errors = await readResultFile(openai, done.error_file_id);
    expect(output).toHaveLength(done.request_counts.completed);
    expect(errors).toHaveLength(done.request_counts.failed);
    const ids = [...output, ...errors].map((l) => l.custom_id);
    expect(new Set(ids).size).toBe(N);
    expect(new Set(ids)).toEqual(new Set(lines.map((l) => l.custom_id)));
    for (const e of errors) expect(e.error?.code).toBe('batch_cancelled');
    console.log(
      `no-worker reads: retrieve ${got.ms.toFixed(0)} ms, list ${listed.ms.toFixed(0)} ms, cancel ${cancelled.ms.toFixed(0)} ms; ` +
        `cancelled ${tookMs} ms after the worker restart (including its start)`,
    );
  });
});
