// Batches started from Temporal under crashes: a worker killed with SIGKILL mid-run, a batch
// started while no worker is up, and a worker killed while a cancel drains. Each ends in its
// expected status with every input line exactly once in the output or the error file.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { getBatchHandle, startBatch, type BatchHandle, type BatchResult } from '../../src/client';
import type { Batch } from '../../src/domain/batch';
import { chatLine, readResultFile, toJsonl, uploadJsonl } from '../harness/batches';
import { startProcessStack, type ProcessStack } from '../harness/process-stack';
import { onS3 } from '../harness/s3-server';

const N = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let stack: ProcessStack;
let fileId: string;

beforeAll(async () => {
  stack = await startProcessStack({
    temporalAddress: inject('temporalAddress'),
    workers: 1,
    env: { GLOBAL_CONCURRENCY: '20', MODEL_CONCURRENCY: '20' },
    sim: { latencyMs: 20 },
  });
  const lines = Array.from({ length: N }, (_, i) => chatLine(`r-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}`));
  fileId = (await uploadJsonl(stack.openai, toJsonl(lines))).id;
});
afterAll(async () => stack?.close());

const start = (workflowId: string): Promise<BatchHandle> =>
  startBatch(
    stack.client,
    { input_file_id: fileId, endpoint: '/v1/chat/completions' },
    { workflowId: `${workflowId}-${Date.now()}`, taskQueue: stack.taskQueue },
  );

/** The batch as the HTTP API reads it, once the workflow has minted its id. */
async function viaApi(handle: BatchHandle): Promise<Batch> {
  for (;;) {
    const memo = (await handle.describe()).memo as { batch?: { id: string } } | undefined;
    if (memo?.batch) return (await stack.openai.batches.retrieve(memo.batch.id)) as unknown as Batch;
    await sleep(100);
  }
}

async function until(handle: BatchHandle, done: (b: Batch) => boolean): Promise<Batch> {
  for (let b = await viaApi(handle); ; b = await viaApi(handle)) {
    if (done(b)) return b;
    await sleep(100);
  }
}

/** Every input line once across both files, and the counts agree. */
async function expectEveryLineOnce(result: BatchResult): Promise<void> {
  const out = await readResultFile(stack.openai, result.output_file_id);
  const err = await readResultFile(stack.openai, result.error_file_id);
  const ids = [...out, ...err].map((l) => l.custom_id);
  expect(ids).toHaveLength(N);
  expect(new Set(ids).size).toBe(N);
  expect(result.request_counts).toEqual({ total: N, completed: out.length, failed: err.length });
}

it('resumes after the worker is killed mid-run', async () => {
  const handle = await start('killed-mid-run');
  await until(handle, (b) => b.request_counts.completed >= 300);
  await stack.workers[0].kill9();
  await stack.addWorker();
  const result = await handle.result();
  expect(result.status).toBe('completed');
  await expectEveryLineOnce(result);
  expect((await stack.openai.batches.retrieve(result.id)).status).toBe('completed');
}, 120_000);

// On S3 (the s3-solo project) only the two kills run: a start with no worker up is no storage matter.
it.skipIf(onS3())(
  'starts once a worker comes up, when none was running at the start',
  async () => {
    await stack.workers.at(-1)?.kill9();
    const handle = await start('no-worker-yet');
    await sleep(1000);
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await stack.addWorker();
    const result = await handle.result();
    expect(result.status).toBe('completed');
    await expectEveryLineOnce(result);
  },
  120_000,
);

it('ends cancelled when the worker is killed while a cancel drains', async () => {
  const handle = await start('killed-in-drain');
  const running = await until(handle, (b) => b.request_counts.completed >= 300);
  expect((await stack.openai.batches.cancel(running.id)).status).toBe('cancelling');
  await stack.workers.at(-1)?.kill9();
  await stack.addWorker();
  const result = await getBatchHandle(stack.client, handle.workflowId).result();
  expect(result.status).toBe('cancelled');
  await expectEveryLineOnce(result);
  expect((await stack.openai.batches.retrieve(result.id)).status).toBe('cancelled');
}, 120_000);
