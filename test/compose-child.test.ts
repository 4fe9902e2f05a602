// A team's workflow on its own task queue runs batches as child workflows (src/client/workflow.ts),
// reacts to their results, cancels one, and each batch reads back through the HTTP API like any other.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import type { EnrichmentOutcome } from './fixtures/team-workflows';
import { chatLine, readResultFile, toJsonl, uploadJsonl, type RequestLine } from './harness/batches';
import { sourceBundlerOptions } from './harness/source-condition';
import { startStack, type Stack } from './harness/stack';

const TEAM_QUEUE = `team-${randomBytes(6).toString('hex')}`;

let stack: Stack;
let teamConnection: NativeConnection;
let teamWorker: Worker;
let teamRunning: Promise<void>;

beforeAll(async () => {
  // Two requests per model at a time, so the batch to cancel is still running when it is cancelled.
  stack = await startStack({ MODEL_CONCURRENCY: '2' });
  teamConnection = await NativeConnection.connect({ address: stack.config.TEMPORAL_ADDRESS });
  // The team's worker: its own task queue, its own bundle, none of our workflow code registered.
  teamWorker = await Worker.create({
    connection: teamConnection,
    namespace: stack.config.TEMPORAL_NAMESPACE,
    taskQueue: TEAM_QUEUE,
    workflowsPath: resolve(__dirname, 'fixtures/team-workflows/index.ts'),
    bundlerOptions: sourceBundlerOptions,
  });
  teamRunning = teamWorker.run();
});

afterAll(async () => {
  if (teamWorker) {
    teamWorker.shutdown();
    await teamRunning;
  }
  await teamConnection?.close();
  await stack?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const workflowId = (name: string) => `${name}-${randomBytes(4).toString('hex')}`;
const lines = (prefix: string, n: number, marker = ''): RequestLine[] =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, 'gpt-4o-mini', `${prefix} ${i} ${marker}`));

async function upload(requestLines: RequestLine[]): Promise<string> {
  return (await uploadJsonl(stack.openai, toJsonl(requestLines))).id;
}

async function retrieve(id: string): Promise<Batch> {
  return (await stack.openai.batches.retrieve(id)) as unknown as Batch;
}

/** The batch a team workflow started, from the newest page of batches.list(), once `until` holds. */
async function findByParent(parent: string, until: (b: Batch) => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await stack.openai.batches.list({ limit: 100 });
    const found = (page.data as unknown as Batch[]).find((b) => b.metadata?.parent === parent);
    if (found && until(found)) return found;
    if (Date.now() > deadline)
      throw new Error(`batch of ${parent}: ${JSON.stringify(found ?? 'not listed')}`);
    await sleep(200);
  }
}

/** Waits until the gateway (simulator) has answered at least `n` calls of the batch. */
async function waitForGatewayCalls(batchId: string, n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = (await (await fetch(`${stack.sim.url}/_sim/batches/${batchId}`)).json()) as {
      calls?: number;
    };
    if ((stats.calls ?? 0) >= n) return;
    if (Date.now() > deadline) throw new Error(`batch ${batchId}: fewer than ${n} gateway calls`);
    await sleep(50);
  }
}

async function enrich(fileId: string): Promise<{ parent: string; outcome: EnrichmentOutcome }> {
  const parent = workflowId('enrich');
  const outcome = await stack.client.workflow.execute<(f: string, q: string) => Promise<EnrichmentOutcome>>(
    'enrichWithBatch',
    { taskQueue: TEAM_QUEUE, workflowId: parent, args: [fileId, stack.config.TEMPORAL_TASK_QUEUE] },
  );
  return { parent, outcome };
}

describe('a team workflow running batches as child workflows', () => {
  it('runs a batch to completion, and the batch is an ordinary batch of the HTTP API', async () => {
    const fileId = await upload(lines('ok', 5));
    const { parent, outcome } = await enrich(fileId);
    expect(outcome).toMatchObject({ status: 'completed', needsReview: false, next: 'publish' });
    expect(outcome.batchId).toMatch(/^batch_/);

    const batch = await retrieve(outcome.batchId);
    expect(batch).toMatchObject({ id: outcome.batchId, status: 'completed', input_file_id: fileId });
    expect(batch.request_counts).toEqual({ total: 5, completed: 5, failed: 0 });
    expect(batch.metadata).toEqual({ parent });
    expect(batch.output_file_id).toBe(outcome.outputFileId);
    expect((await findByParent(parent, () => true)).id).toBe(outcome.batchId);

    const output = await readResultFile(stack.openai, batch.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(['ok-0', 'ok-1', 'ok-2', 'ok-3', 'ok-4']);
    expect(output.every((l) => l.response?.status_code === 200)).toBe(true);
  });

  it('reacts to a line the gateway blocked: the batch completes, the team routes it to review', async () => {
    const fileId = await upload([...lines('fine', 3), chatLine('blocked', 'gpt-4o-mini', 'no #sim:409')]);
    const { outcome } = await enrich(fileId);
    expect(outcome).toMatchObject({ status: 'completed', needsReview: true, next: 'review' });

    const batch = await retrieve(outcome.batchId);
    expect(batch.request_counts).toEqual({ total: 4, completed: 3, failed: 1 });
    expect(batch.error_file_id).toBe(outcome.errorFileId);
    const errors = await readResultFile(stack.openai, batch.error_file_id);
    expect(errors.map((l) => [l.custom_id, l.response?.status_code])).toEqual([['blocked', 409]]);
    expect(await readResultFile(stack.openai, batch.output_file_id)).toHaveLength(3);
  });

  it('cancels its child batch: the batch drains and ends cancelled, here and through the API', async () => {
    // 40 requests of 500 ms, two at a time: ~10 s of work, cancelled once the gateway has seen 4.
    const fileId = await upload(lines('slow', 40, '#sim:delay=500'));
    const parent = workflowId('cancel');
    const handle = await stack.client.workflow.start('startThenCancelBatch', {
      taskQueue: TEAM_QUEUE,
      workflowId: parent,
      args: [fileId, stack.config.TEMPORAL_TASK_QUEUE],
    });
    const running = await findByParent(parent, () => true);
    await waitForGatewayCalls(running.id, 4);
    await handle.signal('cancelNow');
    const result = (await handle.result()) as Batch;
    expect(result.id).toBe(running.id);
    expect(result.status).toBe('cancelled');
    expect(result.request_counts.total).toBe(40);
    expect(result.request_counts.completed).toBeGreaterThan(0);
    expect(result.request_counts.completed).toBeLessThan(40);

    const batch = await retrieve(result.id);
    expect(batch.status).toBe('cancelled');
    expect(batch.request_counts).toEqual(result.request_counts);
    const output = await readResultFile(stack.openai, batch.output_file_id);
    const errors = await readResultFile(stack.openai, batch.error_file_id);
    expect(output).toHaveLength(result.request_counts.completed);
    expect(output.length + errors.length).toBe(40);
    expect(errors.every((l) => l.error?.code === 'batch_cancelled')).toBe(true);
  });
});
