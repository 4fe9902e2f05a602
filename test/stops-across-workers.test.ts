import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import type { DevServer } from '../src/temporal/dev-server';
import {
  chatLine,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type ResultLineJson,
} from './harness/batches';
import { startRolloverServer } from './harness/rollover-server';
import { startProcessStack, type ProcessStack } from './harness/process-stack';

// Stops with real worker processes: a worker killed with SIGKILL while a stopping batch drains,
// and a halt or budget stop seen by one worker process that the others must obey within seconds.
// The server suggests continue-as-new early, so every stop also crosses a rollover.
const MODEL_CONCURRENCY = 10;

let server: DevServer;
let stack: ProcessStack;
beforeAll(async () => {
  server = await startRolloverServer();
  stack = await startProcessStack({
    temporalAddress: server.address,
    workers: 2,
    env: {
      SEGMENT_SIZE: '10',
      // One segment per chunk: progress moves every few requests and the children roll over.
      CHUNK_REQUESTS: '10',
      MODEL_CONCURRENCY: String(MODEL_CONCURRENCY),
      // The expiry test's window: long enough to see 20 answers on a loaded machine (~5/s seen).
      COMPLETION_WINDOWS: '24h,12s',
    },
    sim: { latencyMs: 50 },
  });
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

const lines = (n: number, marker: (i: number) => string = () => '') =>
  Array.from({ length: n }, (_, i) => chatLine(`w-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}${marker(i)}`));

async function create(
  n: number,
  body: Record<string, unknown>,
  marker?: (i: number) => string,
): Promise<Batch> {
  const file = await uploadJsonl(stack.openai, toJsonl(lines(n, marker)));
  return (await stack.openai.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    ...body,
  } as never)) as unknown as Batch;
}

async function results(done: Batch): Promise<ResultLineJson[]> {
  return [
    ...(await readResultFile(stack.openai, done.output_file_id)),
    ...(await readResultFile(stack.openai, done.error_file_id)),
  ];
}

/** Every line once; lines that never ran carry `code`. */
async function expectAccounted(done: Batch, n: number, code: string): Promise<ResultLineJson[]> {
  const all = await results(done);
  expect(all.length).toBe(n);
  expect(new Set(all.map((l) => l.custom_id)).size).toBe(n);
  for (const l of all) if (l.response === null) expect(l.error?.code).toBe(code);
  return all;
}

/** Worker identities that ran chunk activities of the batch (from the children's histories). */
async function chunkWorkers(batchId: string): Promise<Set<string>> {
  const identities = new Set<string>();
  for await (const wf of stack.client.workflow.list({
    query: `WorkflowId STARTS_WITH '${batchId}-model-'`,
  })) {
    const history = await stack.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
    for (const e of history.events ?? []) {
      const identity = e.activityTaskStartedEventAttributes?.identity;
      if (identity) identities.add(identity);
    }
  }
  return identities;
}

const callSeq = (line: ResultLineJson): number =>
  parseInt(line.response!.request_id.replace(/^req_/, ''), 16);

describe('stops across worker processes', () => {
  it('a 401 seen by one worker stops every worker within seconds', async () => {
    const n = 6000;
    const refusedId = 'w-2001';
    const created = await create(n, {}, (i) => (`w-${i}` === refusedId ? ' #sim:401' : ''));
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('failed');
    expect(done.errors?.data[0].code).toBe('gateway_auth_failed');
    expect((await chunkWorkers(created.id)).size).toBe(2);
    const all = await expectAccounted(done, n, 'batch_failed');
    const refused = all.find((l) => l.custom_id === refusedId)!;
    const later = all.filter((l) => l.response && callSeq(l) > callSeq(refused)).length;
    console.log(`401 across two workers: ${later} calls reached the gateway after the refusal`);
    // In flight on both workers, plus what starts before the stop reaches them (~2 s at ≤ 400/s).
    expect(later).toBeLessThanOrEqual(2 * 2 * MODEL_CONCURRENCY + 800);
  });

  it('a budget used up on one worker stops every worker', async () => {
    const n = 6000;
    // ~10 tokens per answer: the budget is used up after ~1,500 requests.
    const created = await create(n, { x_max_tokens: 15_000 });
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    expect(done.x_budget?.exceeded).toBe(true);
    expect((await chunkWorkers(created.id)).size).toBe(2);
    await expectAccounted(done, n, 'budget_exceeded');
    const calls = stack.sim.batch(created.id).calls;
    const perRequest = done.usage.total_tokens / done.request_counts.completed;
    console.log(
      `budget across two workers: ${calls} calls for a budget of ~${Math.ceil(15_000 / perRequest)}`,
    );
    expect(calls).toBeLessThanOrEqual(15_000 / perRequest + 2 * 2 * MODEL_CONCURRENCY + 800);
  });

  it.each([
    ['cancel', 'cancelled', 'batch_cancelled'],
    ['expiry', 'expired', 'batch_expired'],
  ] as const)('a worker killed while a %s drains: the batch still ends %s', async (stop, status, code) => {
    const n = 3000;
    // Slow answers: at the kill, a worker holds requests in flight for seconds.
    stack.sim.configure({ latencyMs: 1500 });
    try {
      const created = await create(n, stop === 'expiry' ? { completion_window: '12s' } : {});
      await waitForBatch(stack.openai, created.id, (b) => b.request_counts.completed >= 20);
      if (stop === 'cancel') await stack.openai.batches.cancel(created.id);
      else await waitForBatch(stack.openai, created.id, () => Date.now() / 1000 >= created.expires_at!);
      // Mid-drain: requests are in flight on both workers. Kill one, start a replacement.
      await new Promise((r) => setTimeout(r, 300));
      const victim = stack.workers.shift()!;
      await victim.kill9();
      await stack.addWorker();
      const done = await waitForBatch(stack.openai, created.id, undefined, 120_000);
      expect(done.status).toBe(status);
      expect(done.errors).toBeNull();
      const all = await expectAccounted(done, n, code);
      expect(all.filter((l) => l.response === null).length).toBeGreaterThan(n / 2);
    } finally {
      stack.sim.configure({ latencyMs: 50 });
    }
  });
});
