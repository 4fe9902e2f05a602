import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import type { DevServer } from '../src/temporal/dev-server';
import { chatLine, createBatchWith, readResultFile, waitForBatch } from './harness/batches';
import { startRolloverServer } from './harness/rollover-server';
import { startStack, type Stack } from './harness/stack';

// Every stop (cancel, expiry, token budget, 401 halt) after the per-model workflows have continued
// as new: a stop must reach the *current* run of each child and take effect within seconds. The
// server suggests continue-as-new after 60 events, so children roll over within the first second.
const N = 8000;
const MODEL_CONCURRENCY = 10;
const LATENCY_MS = 50;
/** Two models × the cap, every LATENCY_MS: the rate at which requests start. */
const RATE_PER_S = (2 * MODEL_CONCURRENCY * 1000) / LATENCY_MS;
/**
 * Calls a stop may still let through: those in flight, plus those started before the stop reaches
 * each chunk (signal to the parent, signal to each child, activity cancellation at the next
 * heartbeat — about a second each way). Without the stop reaching the child, every remaining
 * request is sent (~6,000 here).
 */
const MAX_CALLS_AFTER_STOP = 2 * MODEL_CONCURRENCY + RATE_PER_S * 3;

let server: DevServer;
let stack: Stack;
beforeAll(async () => {
  server = await startRolloverServer();
  stack = await startStack(
    {
      TEMPORAL_ADDRESS: server.address,
      SEGMENT_SIZE: '10',
      MODEL_CONCURRENCY: String(MODEL_CONCURRENCY),
      COMPLETION_WINDOWS: '24h,6s',
    },
    { latencyMs: LATENCY_MS },
  );
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

const lines = (marker: (i: number) => string = () => '') =>
  Array.from({ length: N }, (_, i) => chatLine(`s-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}${marker(i)}`));

const create = (body: Record<string, unknown>, marker?: (i: number) => string): Promise<Batch> =>
  createBatchWith(stack, lines(marker), body);

/** Runs of each per-model child so far (more than one: it has continued as new). */
async function runsPerChild(batchId: string): Promise<number[]> {
  const runs = new Map<string, number>();
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH '${batchId}-model-'` }))
    runs.set(wf.workflowId, (runs.get(wf.workflowId) ?? 0) + 1);
  return [...runs.values()];
}

/** Waits until both children have rolled over and `ready` holds. */
async function rolledOver(batch: Batch, ready: (b: Batch) => boolean = () => true): Promise<Batch> {
  for (;;) {
    const b = await waitForBatch(stack.openai, batch.id, (x) => x.status !== 'validating' && ready(x));
    const runs = await runsPerChild(batch.id);
    if (runs.length === 2 && runs.every((r) => r > 1)) return b;
    expect(b.status).toBe('in_progress');
  }
}

/** Every line once, in the output or the error file; unanswered lines carry `code`. */
async function expectAccounted(done: Batch, code: string): Promise<number> {
  const output = await readResultFile(stack.openai, done.output_file_id);
  const errors = await readResultFile(stack.openai, done.error_file_id);
  const ids = [...output, ...errors].map((l) => l.custom_id);
  expect(ids.length).toBe(N);
  expect(new Set(ids).size).toBe(N);
  const missing = errors.filter((l) => l.response === null);
  expect(missing.every((l) => l.error?.code === code)).toBe(true);
  expect(done.request_counts).toEqual({ total: N, completed: output.length, failed: errors.length });
  return missing.length;
}

describe('stops after continue-as-new', () => {
  it('cancel reaches the current run of every child within seconds', async () => {
    const created = await create({});
    await rolledOver(created, (b) => b.request_counts.completed >= 1500);
    const atStop = stack.sim.batch(created.id).calls;
    const t0 = Date.now();
    const cancelling = await stack.openai.batches.cancel(created.id);
    expect(cancelling.status).toBe('cancelling');
    const done = await waitForBatch(stack.openai, created.id);
    const toTerminal = Date.now() - t0;
    const after = stack.sim.batch(created.id).calls - atStop;
    console.log(`cancel after rollover: ${after} calls after the stop, terminal in ${toTerminal} ms`);
    expect(done.status).toBe('cancelled');
    expect(after).toBeLessThanOrEqual(MAX_CALLS_AFTER_STOP);
    expect(toTerminal).toBeLessThan(15_000);
    expect(await expectAccounted(done, 'batch_cancelled')).toBeGreaterThan(N / 4);
  });

  it('expiry reaches the current run of every child', async () => {
    const created = await create({ completion_window: '6s' });
    await rolledOver(created);
    const done = await waitForBatch(stack.openai, created.id);
    const calls = stack.sim.batch(created.id).calls;
    const late = Date.now() / 1000 - done.expires_at!;
    console.log(
      `expiry after rollover: ${calls} calls in all, terminal ${late.toFixed(1)} s after expires_at`,
    );
    expect(done.status).toBe('expired');
    // 6 s at RATE_PER_S plus the stop's slack, far from all N.
    expect(calls).toBeLessThanOrEqual(6 * RATE_PER_S + MAX_CALLS_AFTER_STOP);
    expect(late).toBeLessThan(15);
    expect(await expectAccounted(done, 'batch_expired')).toBeGreaterThan(N / 4);
  });

  it('the token budget stops every child after rollover', async () => {
    // ~10 tokens per answer: the budget is used up after ~2,000 requests.
    const created = await create({ x_max_tokens: 20_000 });
    const done = await waitForBatch(stack.openai, created.id);
    const runs = await runsPerChild(created.id);
    expect(runs.every((r) => r > 1)).toBe(true);
    const calls = stack.sim.batch(created.id).calls;
    const perRequest = done.usage.total_tokens / done.request_counts.completed;
    console.log(`budget after rollover: ${calls} calls for a budget of ~${Math.ceil(20_000 / perRequest)}`);
    expect(done.status).toBe('cancelled');
    expect(done.x_budget?.exceeded).toBe(true);
    expect(calls).toBeLessThanOrEqual(20_000 / perRequest + MAX_CALLS_AFTER_STOP);
    expect(await expectAccounted(done, 'budget_exceeded')).toBeGreaterThan(N / 4);
  });

  it('a 401 halts the batch: every child stops after rollover', async () => {
    // Line 3001 (model m-a) is refused; by then both children have rolled over.
    const created = await create({}, (i) => (i === 3001 ? ' #sim:401' : ''));
    const done = await waitForBatch(stack.openai, created.id);
    const runs = await runsPerChild(created.id);
    expect(runs.every((r) => r > 1)).toBe(true);
    const calls = stack.sim.batch(created.id).calls;
    console.log(`401 after rollover: ${calls} calls in all (refused line is #3001)`);
    expect(done.status).toBe('failed');
    expect(done.errors?.data[0].code).toBe('gateway_auth_failed');
    expect(calls).toBeLessThanOrEqual(3002 + MAX_CALLS_AFTER_STOP);
    expect(await expectAccounted(done, 'batch_failed')).toBeGreaterThan(N / 4);
  });

  it('a child cancelled on its own (Web UI) cancels the whole batch', async () => {
    const created = await create({});
    await rolledOver(created, (b) => b.request_counts.completed >= 1000);
    // As the Web UI does: a workflow cancellation of one child, by workflow id (its current run).
    await stack.client.workflow.getHandle(`${created.id}-model-0`).cancel();
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    expect(done.errors).toBeNull();
    expect(stack.sim.batch(created.id).calls).toBeLessThan(N / 2);
    expect(await expectAccounted(done, 'batch_cancelled')).toBeGreaterThan(N / 4);
  });
});
