import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import type { DevServer } from '../src/temporal/dev-server';
import type { ModelShardInput } from '../src/workflows/types';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startRolloverServer } from './harness/rollover-server';
import { startStack, type Stack } from './harness/stack';

// Pause × continue-as-new: a server that suggests continue-as-new after 60 history events, so the
// per-model children roll over often — while paused too — and must carry the pause and the chunks
// it cancelled into their next run.
let server: DevServer;
let stack: Stack;
beforeAll(async () => {
  server = await startRolloverServer();
  stack = await startStack(
    { TEMPORAL_ADDRESS: server.address, SEGMENT_SIZE: '10', MODEL_CONCURRENCY: '5' },
    { latencyMs: 60 },
  );
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
async function post(id: string, action: 'pause' | 'resume'): Promise<Batch> {
  const res = await fetch(`${stack.apiUrl}/v1/batches/${id}/${action}`, { method: 'POST' });
  expect(res.status).toBe(200);
  return (await res.json()) as Batch;
}
// Every 20th request is slow (2.5 s), so a pause always finds chunks with work left to cancel.
const linesFor = (prefix: string, n: number, slow = false) =>
  Array.from({ length: n }, (_, i) =>
    chatLine(
      `${prefix}-${i}`,
      i % 2 ? 'm-a' : 'm-b',
      `line ${i}${slow && i % 20 === 6 ? ' #sim:delay=2500' : ''}`,
    ),
  );

/** The inputs of every run of a child workflow, oldest first. */
async function childRuns(workflowId: string): Promise<ModelShardInput[]> {
  const runs: { start: number; runId: string }[] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` }))
    runs.push({ start: wf.startTime.getTime(), runId: wf.runId });
  runs.sort((a, b) => a.start - b.start);
  const inputs: ModelShardInput[] = [];
  for (const { runId } of runs) {
    const history = await stack.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    inputs.push(JSON.parse(Buffer.from(payload!.data!).toString('utf8')) as ModelShardInput);
  }
  return inputs;
}

async function expectExact(done: Batch, n: number) {
  expect(done.status).toBe('completed');
  expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });
  const output = await readResultFile(stack.openai, done.output_file_id);
  expect(output).toHaveLength(n);
  expect(new Set(output.map((l) => l.custom_id)).size).toBe(n);
  // Each request reached the gateway once: neither the pauses nor the rollovers re-sent one.
  expect(stack.sim.batch(done.id).calls).toBe(n);
  for (const [id, calls] of Object.entries(stack.sim.records(done.id))) expect(calls, id).toBe(1);
}

describe('pause × continue-as-new', () => {
  it('a paused child rolls over paused (signals made its history long) and resumes in its new run', async () => {
    const n = 400;
    const created = await createBatch(stack.openai, linesFor('h', n, true));
    await until('40 calls', () => stack.sim.batch(created.id).calls >= 40);
    await post(created.id, 'pause');
    // The pause reaches the chunks within about a second (signal, then heartbeat); then they drain.
    await sleep(2500);
    await until('drained', () => stack.sim.batch(created.id).inFlight === 0);
    const child = `${created.id}-model-0`;
    const before = (await childRuns(child)).length;
    // Web UI users pausing the child again and again: each signal lengthens its history.
    const handle = stack.client.workflow.getHandle(child);
    for (let i = 0; i < 30; i++) await handle.signal('pause');
    let carried: ModelShardInput | undefined;
    await until('a paused rollover', async () => {
      const runs = await childRuns(child);
      carried = runs[runs.length - 1];
      return runs.length > before && carried.paused === true;
    });
    // The chunks the pause cancelled are handed to the new run, to run first after resume.
    expect(carried!.rerun?.length).toBeGreaterThan(0);
    const calls = stack.sim.batch(created.id).calls;
    await sleep(1000);
    expect(stack.sim.batch(created.id).calls).toBe(calls);

    await post(created.id, 'resume');
    await expectExact(await waitForBatch(stack.openai, created.id), n);
  });

  it('pauses and resumes across many rollovers, carrying the cancelled chunks over', async () => {
    const n = 1200;
    const created = await createBatch(stack.openai, linesFor('m', n));
    for (let i = 0; i < 6; i++) {
      const at = stack.sim.batch(created.id).calls;
      await until('more calls', () => stack.sim.batch(created.id).calls >= Math.min(n, at + 60));
      if ((await stack.openai.batches.retrieve(created.id)).status !== 'in_progress') break;
      await post(created.id, 'pause');
      await sleep(1500);
      await until('drained', () => stack.sim.batch(created.id).inFlight === 0);
      await sleep(300);
      await post(created.id, 'resume');
    }
    const done = await waitForBatch(stack.openai, created.id);
    await expectExact(done, n);
    // The children rolled over many times (each run's input carries what the last left to do).
    for (const model of [0, 1])
      expect((await childRuns(`${created.id}-model-${model}`)).length).toBeGreaterThan(2);
  });
});
