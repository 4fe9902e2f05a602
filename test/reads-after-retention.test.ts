// Reads after Temporal's retention has removed a batch's workflow: GET /v1/batches/{id} answers
// from the stored snapshot, and the batch's files still download. Retention is played by deleting
// the closed workflow execution (deleteWorkflowExecution, which is what retention does); the dev
// server accepts no retention period below one hour.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBatch } from 'temporal-batch-gateway/client';
import type { Batch } from '../src/domain/batch';
import type { DevServer } from '../src/temporal/dev-server';
import {
  chatLine,
  createBatch,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type RequestLine,
} from './harness/batches';
import { expireWorkflow, startRetentionServer } from './harness/retention-server';
import { startStack, type Stack } from './harness/stack';

let server: DevServer;
let stack: Stack;
beforeAll(async () => {
  server = await startRetentionServer();
  // Two requests at a time: a batch of slow requests is still running when it is cancelled.
  stack = await startStack({ TEMPORAL_ADDRESS: server.address, MODEL_CONCURRENCY: '2' }, { latencyMs: 5 });
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

const lines = (prefix: string, n: number, marker = (_i: number) => ''): RequestLine[] =>
  Array.from({ length: n }, (_, i) =>
    chatLine(`${prefix}-${i}`, 'gpt-4o-mini', `${prefix} ${i}${marker(i)}`),
  );

/** The batch as read before and after its workflow is gone: the same object, files still served. */
async function expectSameAfterRetention(done: Batch, workflowId = done.id): Promise<Batch> {
  const before = (await stack.openai.batches.retrieve(done.id)) as unknown as Batch;
  const output = await readResultFile(stack.openai, before.output_file_id);
  const errors = await readResultFile(stack.openai, before.error_file_id);
  await expireWorkflow(stack.client, workflowId);
  const after = (await stack.openai.batches.retrieve(done.id)) as unknown as Batch;
  expect(after).toEqual(before);
  expect(await readResultFile(stack.openai, after.output_file_id)).toEqual(output);
  expect(await readResultFile(stack.openai, after.error_file_id)).toEqual(errors);
  expect((await stack.openai.files.retrieve(after.input_file_id)).id).toBe(after.input_file_id);
  return after;
}

describe('reads after retention', () => {
  it('a completed batch answers from its snapshot, with its output and error files', async () => {
    const created = await createBatch(
      stack.openai,
      lines('ok', 8, (i) => (i === 3 ? ' #sim:409' : '')),
    );
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    const after = await expectSameAfterRetention(done);
    expect(after.request_counts).toEqual({ total: 8, completed: 7, failed: 1 });
    expect(after.completed_at).not.toBeNull();
    // Cancelling it still answers like a completed batch.
    await expect(stack.openai.batches.cancel(done.id)).rejects.toMatchObject({ status: 409 });
  });

  it('a cancelled batch keeps its status, timestamps and partial output', async () => {
    const created = await createBatch(
      stack.openai,
      lines('c', 60, () => ' #sim:delay=200'),
    );
    await waitForBatch(stack.openai, created.id, (b) => b.status === 'in_progress');
    await stack.openai.batches.cancel(created.id);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    const after = await expectSameAfterRetention(done);
    expect(after.cancelled_at).not.toBeNull();
    const errors = await readResultFile(stack.openai, after.error_file_id);
    expect(errors.some((e) => e.error?.code === 'batch_cancelled')).toBe(true);
    expect((await stack.openai.batches.cancel(done.id)).status).toBe('cancelled');
  });

  it('a failed batch (gateway refused the key) keeps its errors; a dead-letter replay still works', async () => {
    const created = await createBatch(
      stack.openai,
      lines('f', 6, (i) => (i === 2 ? ' #sim:401' : '')),
    );
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('failed');
    const after = await expectSameAfterRetention(done);
    expect(after.errors?.data[0].code).toBe('gateway_auth_failed');
    // The original's options are gone with its workflow; its files are not: the replay is made.
    const res = await fetch(`${stack.apiUrl}/v1/batches/${done.id}/replay`, { method: 'POST' });
    expect(res.status).toBe(200);
    const replay = (await res.json()) as Batch;
    expect(replay.x_replay_of).toBe(done.id);
    expect((await stack.openai.batches.retrieve(done.id)) as unknown as Batch).toMatchObject({
      status: 'failed',
      x_replays: [replay.id],
    });
  });

  it('a batch that failed validation answers with its line errors', async () => {
    const file = await uploadJsonl(stack.openai, toJsonl([lines('v', 1)[0], { custom_id: 'bad' }]));
    const created = await stack.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('failed');
    const after = await expectSameAfterRetention(done);
    expect(after.errors?.data.length).toBeGreaterThan(0);
  });

  it('a batch started from Temporal (under the starter’s workflow id) answers by its batch id', async () => {
    const file = await uploadJsonl(stack.openai, toJsonl(lines('d', 4)));
    const workflowId = `retention-${randomBytes(4).toString('hex')}`;
    const handle = await startBatch(
      stack.client,
      { input_file_id: file.id, endpoint: '/v1/chat/completions' },
      { workflowId, taskQueue: stack.config.TEMPORAL_TASK_QUEUE },
    );
    const result = await handle.result();
    expect(result.status).toBe('completed');
    const done = (await stack.openai.batches.retrieve(result.id)) as unknown as Batch;
    const after = await expectSameAfterRetention(done, workflowId);
    expect(after.request_counts).toEqual({ total: 4, completed: 4, failed: 0 });
  });
});
