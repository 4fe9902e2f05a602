import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import { MISSING_LINE_MESSAGES } from '../src/domain/lines';
import {
  chatLine,
  createBatch,
  readResultFile,
  waitForBatch,
  type RequestLine,
  type ResultLineJson,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// 4 requests at a time, 200 ms each: 20 requests a second, so a batch of 200 needs ~10 s and
// can be cancelled (or expire in a 6 s window) well before it is done.
const MODEL_CONCURRENCY = 4;
const LATENCY_MS = 200;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { COMPLETION_WINDOWS: '24h,6s', MODEL_CONCURRENCY: String(MODEL_CONCURRENCY) },
    { latencyMs: LATENCY_MS },
  );
});
afterAll(async () => stack?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface SimBatchStats {
  calls: number;
  inFlight: number;
  byStatus: Record<string, number>;
}

async function simBatch(id: string): Promise<SimBatchStats> {
  const res = await fetch(`${stack.sim.url}/_sim/batches/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as SimBatchStats;
}

async function simRecords(id: string): Promise<Record<string, number>> {
  const res = await fetch(`${stack.sim.url}/_sim/records?batch=${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, number>;
}

/** Waits until the gateway has received at least `n` calls for the batch. */
async function waitForCalls(id: string, n: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await simBatch(id)).calls < n) {
    if (Date.now() > deadline) throw new Error(`batch ${id} made fewer than ${n} calls in ${timeoutMs} ms`);
    await sleep(50);
  }
}

const linesFor = (prefix: string, n: number): RequestLine[] =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, 'gpt-4o-mini', `${prefix} question ${i}`));

/**
 * The invariants of a batch stopped part-way: every custom_id exactly once across the two files,
 * finished requests in the output file with status 200, the rest error lines with `missingCode`,
 * counts that add up, and nothing the gateway was sent lost (in-flight requests were drained, not
 * abandoned). Returns the output and error lines.
 */
async function expectPartialResults(
  done: Batch,
  lines: RequestLine[],
  missingCode: 'batch_cancelled' | 'batch_expired',
): Promise<{ output: ResultLineJson[]; errors: ResultLineJson[] }> {
  const output = await readResultFile(stack.openai, done.output_file_id);
  const errors = await readResultFile(stack.openai, done.error_file_id);
  const ids = [...output, ...errors].map((l) => l.custom_id);
  expect(ids.length).toBe(lines.length);
  expect(new Set(ids).size).toBe(lines.length);
  expect([...ids].sort()).toEqual(lines.map((l) => l.custom_id).sort());

  for (const line of output) {
    expect(line.error).toBeNull();
    expect(line.response!.status_code).toBe(200);
  }
  for (const line of errors) {
    expect(line.response).toBeNull();
    expect(line.error).toEqual({ code: missingCode, message: MISSING_LINE_MESSAGES[missingCode] });
  }
  expect(done.request_counts).toEqual({
    total: lines.length,
    completed: output.length,
    failed: errors.length,
  });
  expect(done.request_counts.completed + done.request_counts.failed).toBe(done.request_counts.total);

  // Every call the gateway received was answered 200 (none abandoned mid-flight) and its record is in
  // the output file; records never sent are the error lines.
  const stats = await simBatch(done.id);
  expect(stats.inFlight).toBe(0);
  expect(stats.byStatus).toEqual(output.length > 0 ? { '200': output.length } : {});
  const calls = await simRecords(done.id);
  const outIds = new Set(output.map((l) => l.custom_id));
  for (const [id, n] of Object.entries(calls)) {
    expect(n, id).toBe(1);
    expect(outIds.has(id), `${id} was answered by the gateway but is not in the output file`).toBe(true);
  }
  expect(Object.keys(calls).length).toBe(output.length);

  // And the gateway hears nothing more about the batch.
  await sleep(500);
  expect((await simBatch(done.id)).calls).toBe(stats.calls);
  return { output, errors };
}

describe('cancel', () => {
  it('cancels a running batch through batches.cancel, finishing in-flight requests', async () => {
    const lines = linesFor('c', 200);
    const created = await createBatch(stack.openai, lines);
    await waitForCalls(created.id, 20);

    const cancelling = (await stack.openai.batches.cancel(created.id)) as unknown as Batch;
    BatchSchema.parse(cancelling);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).not.toBeNull();
    expect(cancelling.cancelled_at).toBeNull();
    const callsAtCancel = (await simBatch(created.id)).calls;

    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('cancelled');
    expect(done.cancelling_at).toBe(cancelling.cancelling_at);
    expect(done.cancelled_at).not.toBeNull();
    expect(done.cancelled_at!).toBeGreaterThanOrEqual(done.cancelling_at!);
    expect(done.completed_at).toBeNull();
    expect(done.in_progress_at).not.toBeNull();

    const { output, errors } = await expectPartialResults(done, lines, 'batch_cancelled');
    expect(output.length).toBeGreaterThanOrEqual(callsAtCancel);
    // Cancelling stopped the batch: far from everything was sent.
    expect(errors.length).toBeGreaterThan(lines.length / 2);

    // Cancelling again is not an error: the batch comes back as it is.
    const again = (await stack.openai.batches.cancel(created.id)) as unknown as Batch;
    expect(again.status).toBe('cancelled');
    expect(again.cancelled_at).toBe(done.cancelled_at);
  });

  it('cancels through the Temporal `cancel` signal (as a Web UI user does)', async () => {
    const lines = linesFor('s', 200);
    const created = await createBatch(stack.openai, lines);
    await waitForCalls(created.id, 10);

    await stack.client.workflow.getHandle(created.id).signal('cancel');
    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('cancelled');
    expect(done.cancelling_at).not.toBeNull();
    expect(done.cancelled_at).not.toBeNull();

    const { output, errors } = await expectPartialResults(done, lines, 'batch_cancelled');
    expect(output.length).toBeGreaterThanOrEqual(10);
    expect(errors.length).toBeGreaterThan(lines.length / 2);
  });

  it('treats a Temporal workflow cancellation request like the cancel signal', async () => {
    const lines = linesFor('w', 200);
    const created = await createBatch(stack.openai, lines);
    await waitForCalls(created.id, 10);

    const handle = stack.client.workflow.getHandle(created.id);
    await handle.cancel();
    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('cancelled');
    expect(done.cancelling_at).not.toBeNull();
    expect(done.cancelled_at).not.toBeNull();
    // The workflow drained and returned the Batch rather than being torn down.
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const { errors } = await expectPartialResults(done, lines, 'batch_cancelled');
    expect(errors.length).toBeGreaterThan(lines.length / 2);
  });

  it('cancels a batch right after creation, while it is still validating', async () => {
    const lines = linesFor('v', 300);
    const created = await createBatch(stack.openai, lines);
    expect(created.status).toBe('validating');

    const cancelling = (await stack.openai.batches.cancel(created.id)) as unknown as Batch;
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelling_at).not.toBeNull();

    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('cancelled');
    expect(done.cancelled_at).not.toBeNull();
    // It never started: no request reached the gateway and every line is `batch_cancelled`.
    expect(done.in_progress_at).toBeNull();
    expect(done.output_file_id).toBeNull();
    const { errors } = await expectPartialResults(done, lines, 'batch_cancelled');
    expect(errors).toHaveLength(lines.length);
    expect((await simBatch(done.id)).calls).toBe(0);
  });
});

describe('completion window', () => {
  it('expires a batch that cannot finish in its window, keeping what finished', async () => {
    const lines = linesFor('e', 200);
    const created = await createBatch(stack.openai, lines, { completion_window: '6s' });
    expect(created.completion_window).toBe('6s');
    expect(created.expires_at).toBe(created.created_at + 6);

    const done = await waitForBatch(stack.openai, created.id, undefined, 60_000);
    BatchSchema.parse(done);
    expect(done.status).toBe('expired');
    expect(done.in_progress_at).not.toBeNull();
    expect(done.expired_at).not.toBeNull();
    expect(done.expired_at!).toBeGreaterThanOrEqual(done.expires_at!);
    // The window ends it promptly: draining in-flight requests and finalizing take seconds, not the
    // ~10 s the rest of the batch would need.
    expect(done.expired_at! - done.expires_at!).toBeLessThanOrEqual(4);
    expect(done.completed_at).toBeNull();
    expect(done.cancelled_at).toBeNull();

    const { output, errors } = await expectPartialResults(done, lines, 'batch_expired');
    expect(output.length).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) {
      expect(line.error!.message).toBe(
        'This request could not be executed before the completion window expired.',
      );
    }

    // An expired batch cannot be cancelled.
    await expect(stack.openai.batches.cancel(created.id)).rejects.toMatchObject({ status: 409 });
  });
});
