// Batches started from Temporal with the client module (src/client): the public input, the result
// with storage refs, progress, both cancels, a storage reference as input, bad input failing at once
// naming the field, tenants kept apart — and every such batch read back through the HTTP API.
import { randomBytes } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batchProgress,
  cancelBatch,
  runBatch,
  startBatch,
  type BatchResult,
  type StartBatchInput,
} from 'temporal-batch-gateway/client';
import type { Batch } from '../src/domain/batch';
import { BATCH_TENANT_SA } from '../src/workflows/definitions';
import { chatLine, createBatch, readResultFile, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { onS3 } from './harness/s3-server';
import { startStack, type Stack } from './harness/stack';

let stack: Stack;
let fileId: string;
const N = 12;
// Distinct bodies: the within-batch response cache would answer repeated ones with one call.
const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`r-${i}`, 'm-a', `line ${i}`));

beforeAll(async () => {
  // A small per-model cap, so a slow upstream keeps a batch running long enough to stop it.
  stack = await startStack({ MODEL_CONCURRENCY: '4' }, { latencyMs: 5 });
  fileId = (await uploadJsonl(stack.openai, toJsonl(lines(N)))).id;
});
afterAll(async () => stack?.close());

const businessId = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;
const opts = (what: string) => ({
  workflowId: businessId(what),
  taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
});
const chat = (extra: Partial<StartBatchInput> = {}): StartBatchInput => ({
  input_file_id: fileId,
  endpoint: '/v1/chat/completions',
  ...extra,
});
const listedIds = async () => (await stack.openai.batches.list({ limit: 100 })).data.map((b) => b.id);

describe('a batch started with the client module', () => {
  it('completes under a business workflow id and reads back through the HTTP API', async () => {
    const o = opts('nightly-enrich');
    const result: BatchResult = await runBatch(stack.client, chat({ metadata: { constructor: 'x' } }), o);
    expect(result.id).toMatch(/^batch_[A-Za-z0-9]+$/);
    expect(result.id).not.toBe(o.workflowId);
    expect(result).toMatchObject({
      status: 'completed',
      input_file_id: fileId,
      completion_window: '24h',
      metadata: { constructor: 'x' },
      request_counts: { total: N, completed: N, failed: 0 },
    });
    expect(result.created_at).toBeLessThanOrEqual(result.completed_at ?? 0);
    expect(result.expires_at).toBe(result.created_at + 24 * 3600);
    // The storage refs name the files' content (a path on the filesystem, s3://bucket/… on S3).
    const keyOf = (ref: string | null) => stack.store.keyOf(ref ?? '') ?? 'no-such-key';
    const out = await stack.store.get(keyOf(result.x_storage.output_file));
    expect(out?.toString('utf8').trim().split('\n')).toHaveLength(N);
    expect(result.x_storage.error_file).toBeNull();
    expect(await stack.store.get(keyOf(result.x_storage.input_file))).not.toBeNull();
    if (onS3()) expect(result.x_storage.input_file).toMatch(/^s3:\/\/batchgw-test\/stack-[0-9a-f]+\//);

    // Found by batch id in visibility (the Web UI's search), under the business workflow id.
    const found = stack.client.workflow.list({ query: `BatchId = '${result.id}'` });
    const executions = [];
    for await (const wf of found) executions.push(wf.workflowId);
    expect(executions).toEqual([o.workflowId]);

    const read = (await stack.openai.batches.retrieve(result.id)) as unknown as Batch;
    const { x_storage: _refs, ...batch } = result;
    expect(read).toEqual(batch);
    expect(await listedIds()).toContain(result.id);
    const output = await readResultFile(stack.openai, result.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(
      lines(N)
        .map((l) => l.custom_id)
        .sort(),
    );
    const files = (await stack.openai.files.list()).data.map((f) => f.id);
    expect(files).toContain(result.output_file_id);
  });

  it('pages with a batch started from Temporal as the cursor, newest first', async () => {
    const older = await createBatch(stack.openai, lines(2));
    const direct = await runBatch(stack.client, chat(), opts('paging'));
    // Other test files create batches of the same tenant meanwhile: check order, not positions.
    const first = (await stack.openai.batches.list({ limit: 100 })).data.map((b) => b.id);
    expect(first.indexOf(direct.id)).toBeGreaterThanOrEqual(0);
    expect(first.indexOf(direct.id)).toBeLessThan(first.indexOf(older.id));
    const next = (await stack.openai.batches.list({ limit: 100, after: direct.id })).data.map((b) => b.id);
    expect(next).toContain(older.id);
    expect(next).not.toContain(direct.id);
  });

  it('answers progress queries, stops on the cancel signal and on an HTTP cancel', async () => {
    stack.sim.configure({ latencyMs: 300 });
    try {
      const slow = (await uploadJsonl(stack.openai, toJsonl(lines(200)))).id;
      const bySignal = await startBatch(stack.client, chat({ input_file_id: slow }), opts('by-signal'));
      const byHttp = await startBatch(stack.client, chat({ input_file_id: slow }), opts('by-http'));
      let progress = await batchProgress(bySignal);
      for (let i = 0; i < 50 && progress.request_counts.completed === 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        progress = await batchProgress(bySignal);
      }
      expect(progress.status).toBe('in_progress');
      expect(progress.request_counts.total).toBe(200);
      await cancelBatch(bySignal);
      const httpId = (await batchProgress(byHttp)).id;
      const answered = await stack.openai.batches.cancel(httpId);
      expect(answered.status).toBe('cancelling');
      for (const handle of [bySignal, byHttp]) {
        const result = await handle.result();
        expect(result.status).toBe('cancelled');
        expect(result.request_counts.total).toBe(200);
        expect(result.request_counts.completed).toBeLessThan(200);
        // Every line once: what ran in the output, the rest as batch_cancelled errors.
        const out = await readResultFile(stack.openai, result.output_file_id);
        const err = await readResultFile(stack.openai, result.error_file_id);
        expect(out.length + err.length).toBe(200);
        expect(err.every((l) => l.error?.code === 'batch_cancelled')).toBe(true);
        const read = await waitForBatch(stack.openai, result.id);
        expect(read.status).toBe('cancelled');
      }
    } finally {
      stack.sim.configure({ latencyMs: 5 });
    }
  });

  it('drains and ends cancelled on a workflow cancellation (the Web UI button)', async () => {
    stack.sim.configure({ latencyMs: 300 });
    try {
      const slow = (await uploadJsonl(stack.openai, toJsonl(lines(100)))).id;
      const handle = await startBatch(stack.client, chat({ input_file_id: slow }), opts('ui-cancel'));
      while ((await batchProgress(handle)).status !== 'in_progress')
        await new Promise((r) => setTimeout(r, 100));
      await handle.cancel();
      const result = await handle.result();
      expect(result.status).toBe('cancelled');
      expect((await stack.openai.batches.retrieve(result.id)).status).toBe('cancelled');
    } finally {
      stack.sim.configure({ latencyMs: 5 });
    }
  });

  it('takes its input from a storage reference and registers it in the Files API', async () => {
    await stack.store.put('imports/2026-12-01/enrich.jsonl', toJsonl(lines(5)));
    const result = await runBatch(
      stack.client,
      { input_file: 'imports/2026-12-01/enrich.jsonl', endpoint: '/v1/chat/completions' },
      opts('from-ref'),
    );
    expect(result).toMatchObject({ status: 'completed', request_counts: { total: 5, completed: 5 } });
    const file = await stack.openai.files.retrieve(result.input_file_id);
    expect(file).toMatchObject({
      filename: 'enrich.jsonl',
      purpose: 'batch',
      bytes: toJsonl(lines(5)).length,
    });
    expect(result.x_storage.input_file).not.toBe('imports/2026-12-01/enrich.jsonl');
  });

  it('is replayed over HTTP like any batch (dead-letter replay links both ways)', async () => {
    const failing = [chatLine('ok', 'm-a', 'fine'), chatLine('bad', 'm-a', 'boom #sim:500')];
    const file = (await uploadJsonl(stack.openai, toJsonl(failing))).id;
    const original = await runBatch(stack.client, chat({ input_file_id: file }), opts('to-replay'));
    expect(original.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const res = await fetch(`${stack.apiUrl}/v1/batches/${original.id}/replay`, { method: 'POST' });
    expect(res.status).toBe(200);
    const replay = (await res.json()) as Batch;
    expect(replay.x_replay_of).toBe(original.id);
    const done = await waitForBatch(stack.openai, replay.id);
    expect(done.request_counts.total).toBe(1);
    const read = (await stack.openai.batches.retrieve(original.id)) as unknown as Batch;
    expect(read.x_replays).toContain(replay.id);
  });

  it('refuses a second start under the same business id while the first runs', async () => {
    const o = opts('twice');
    const first = await startBatch(stack.client, chat(), o);
    await expect(startBatch(stack.client, chat(), o)).rejects.toBeInstanceOf(
      WorkflowExecutionAlreadyStartedError,
    );
    expect((await first.result()).status).toBe('completed');
  });

  it('keeps tenants apart: another tenant neither sees the batch nor can use its files', async () => {
    const own = (await uploadJsonl(stack.openai, toJsonl(lines(3)))).id;
    await expect(
      runBatch(stack.client, chat({ input_file_id: own, tenant: 'team-b' }), opts('t')),
    ).rejects.toThrow(WorkflowFailedError);
    await stack.store.put('imports/team-b.jsonl', toJsonl(lines(3)));
    const other = await runBatch(
      stack.client,
      { input_file: 'imports/team-b.jsonl', endpoint: '/v1/chat/completions', tenant: 'constructor' },
      opts('t'),
    );
    expect(other.status).toBe('completed');
    await expect(stack.openai.batches.retrieve(other.id)).rejects.toMatchObject({ status: 404 });
    await expect(stack.openai.files.retrieve(other.input_file_id)).rejects.toMatchObject({ status: 404 });
    expect(await listedIds()).not.toContain(other.id);
  });
});

describe('bad input', () => {
  // Inputs are built when the test runs (the uploaded file's id is known only then).
  const bad: [string, () => unknown, string][] = [
    ['not an object', () => 'hello', 'JSON object'],
    ['no input', () => undefined, 'JSON object'],
    ['an unknown field', () => ({ ...chat(), inputFileId: 'x' }), "'inputFileId'"],
    ['a batch id of its own', () => ({ ...chat(), batchId: 'batch_mine', tenant: 'default' }), "'batchId'"],
    ['no endpoint', () => ({ input_file_id: 'file-abc' }), "'endpoint'"],
    ['an endpoint we do not serve', () => chat({ endpoint: '/v1/nope' }), "'endpoint'"],
    ['no input file', () => ({ endpoint: '/v1/chat/completions' }), "'input_file_id'"],
    ['both input fields', () => chat({ input_file: 'imports/x.jsonl' }), "'input_file_id'"],
    ['a missing file', () => chat({ input_file_id: 'file-doesnotexist' }), "'file-doesnotexist'"],
    [
      'a path out of the storage root',
      () => ({ endpoint: '/v1/chat/completions', input_file: '../etc/passwd' }),
      "'input_file'",
    ],
    [
      'a missing storage object',
      () => ({ endpoint: '/v1/chat/completions', input_file: 'imports/none.jsonl' }),
      'imports/none.jsonl',
    ],
    [
      'a directory, not an object',
      () => ({ endpoint: '/v1/chat/completions', input_file: 'imports' }),
      "'imports'",
    ],
    ['a window not allowed', () => chat({ completion_window: '7d' }), "'completion_window'"],
    ['a bad tenant', () => chat({ tenant: '../x' }), "'tenant'"],
    ['a contract version we do not know', () => chat({ contract_version: 2 as 1 }), "'contract_version'"],
    ['an invalid output schema', () => chat({ x_output_schema: { type: 'nonsense' } }), 'x_output_schema'],
    ['metadata of the wrong type', () => chat({ metadata: { k: 1 as unknown as string } }), "'metadata.k'"],
  ];
  it.each(bad)('fails at once, naming the field: %s', async (_name, build, named) => {
    const input = build();
    const o = opts('bad');
    const started = Date.now();
    const failure = await stack.client.workflow
      .execute('batchWorkflow', { ...o, args: input === undefined ? [] : [input] })
      .then(
        () => null,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe('InvalidBatchInput');
    expect((cause as ApplicationFailure).message).toContain(named);
    expect(Date.now() - started).toBeLessThan(5000);
    // One attempt, no retry loop; and no batch appears in the API (no tenant to list it under).
    const history = await stack.client.workflow.getHandle(o.workflowId).fetchHistory();
    const attempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes) ?? [];
    expect(attempts).toHaveLength(1);
    expect(attempts[0].activityTaskStartedEventAttributes?.attempt).toBe(1);
    const desc = await stack.client.workflow.getHandle(o.workflowId).describe();
    expect(desc.memo?.batch).toBeUndefined();
    expect(desc.typedSearchAttributes.get(BATCH_TENANT_SA)).toBeUndefined();
  });
});
