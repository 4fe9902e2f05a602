// A caller workflow in another namespace runs a batch over Nexus (service `batches`, operation
// `startBatch`, src/nexus) through an endpoint targeting our task queue; the batch reads back over HTTP.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, NexusOperationFailure, TemporalFailure } from '@temporalio/common';
import { msToTs } from '@temporalio/common/lib/time';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchResult, StartBatchInput } from '../src/contract/start-batch';
import type { Batch } from '../src/domain/batch';
import { INVALID_BATCH_INPUT } from '../src/domain/failures';
import { nexusBatchWorkflowId } from '../src/nexus/batches-handler';
import { BATCHES_SERVICE_NAME } from '../src/nexus/batches-service';
import { chatLine, readResultFile, toJsonl, uploadJsonl } from './harness/batches';
import { sourceBundlerOptions } from './harness/source-condition';
import { startStack, type Stack } from './harness/stack';

const run = randomBytes(5).toString('hex');
const CALLER_NAMESPACE = `caller-${run}`;
const CALLER_QUEUE = `caller-${run}`;
const ENDPOINT = `batches-${run}`;

let stack: Stack;
let callerClient: Client;
let callerConnection: NativeConnection;
let callerWorker: Worker;
let callerRunning: Promise<void>;
type OperatorService = Stack['client']['connection']['operatorService'];
let endpoint: Awaited<ReturnType<OperatorService['createNexusEndpoint']>>['endpoint'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function registerNamespace(name: string): Promise<void> {
  const service = stack.client.connection.workflowService;
  await service.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1 day') });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await service.describeNamespace({ namespace: name });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

beforeAll(async () => {
  stack = await startStack();
  await registerNamespace(CALLER_NAMESPACE);
  // The endpoint routes Nexus calls of any namespace (allowed by default here) to our worker's queue.
  const created = await stack.client.connection.operatorService.createNexusEndpoint({
    spec: {
      name: ENDPOINT,
      target: {
        worker: { namespace: stack.config.TEMPORAL_NAMESPACE, taskQueue: stack.config.TEMPORAL_TASK_QUEUE },
      },
    },
  });
  endpoint = created.endpoint;
  callerClient = new Client({ connection: stack.client.connection, namespace: CALLER_NAMESPACE });
  callerConnection = await NativeConnection.connect({ address: stack.config.TEMPORAL_ADDRESS });
  callerWorker = await Worker.create({
    connection: callerConnection,
    namespace: CALLER_NAMESPACE,
    taskQueue: CALLER_QUEUE,
    workflowsPath: resolve(__dirname, 'fixtures/team-workflows/nexus-caller.ts'),
    bundlerOptions: sourceBundlerOptions,
  });
  callerRunning = callerWorker.run();
});

afterAll(async () => {
  if (callerWorker) {
    callerWorker.shutdown();
    await callerRunning;
  }
  await callerConnection?.close();
  if (endpoint)
    await stack.client.connection.operatorService.deleteNexusEndpoint({
      id: endpoint.id,
      version: endpoint.version,
    });
  await stack?.close();
});

const overNexus = (workflowId: string, input: StartBatchInput) =>
  callerClient.workflow.execute<(e: string, i: StartBatchInput) => Promise<BatchResult>>('batchOverNexus', {
    taskQueue: CALLER_QUEUE,
    workflowId,
    args: [ENDPOINT, input],
  });

describe('a batch over Nexus', () => {
  it('runs to completion for a caller in another namespace, and reads back through the HTTP API', async () => {
    const lines = Array.from({ length: 6 }, (_, i) => chatLine(`nx-${i}`, 'gpt-4o-mini', `nexus ${i}`));
    const file = await uploadJsonl(stack.openai, toJsonl(lines));
    const callerId = `nexus-caller-${run}`;
    const result = await overNexus(callerId, {
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      metadata: { caller: callerId },
    });
    expect(result).toMatchObject({
      status: 'completed',
      input_file_id: file.id,
      metadata: { caller: callerId },
    });
    expect(result.id).toMatch(/^batch_/);
    expect(result.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect(result.x_storage.output_file).toBeTruthy();

    const batch = (await stack.openai.batches.retrieve(result.id)) as unknown as Batch;
    expect(batch).toMatchObject({
      id: result.id,
      status: 'completed',
      output_file_id: result.output_file_id,
    });
    const listed = await stack.openai.batches.list({ limit: 100 });
    expect(listed.data.map((b) => b.id)).toContain(result.id);
    const output = await readResultFile(stack.openai, batch.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());

    // The caller's history records the operation; the batch behind it runs in our namespace under
    // a workflow id made from the operation's request id (stable across retries of its start).
    const history = await callerClient.workflow.getHandle(callerId).fetchHistory();
    const scheduled = history.events?.find(
      (e) => e.nexusOperationScheduledEventAttributes,
    )?.nexusOperationScheduledEventAttributes;
    expect(scheduled).toMatchObject({
      endpoint: ENDPOINT,
      service: BATCHES_SERVICE_NAME,
      operation: 'startBatch',
    });
    const backing = stack.client.workflow.getHandle(nexusBatchWorkflowId(scheduled!.requestId!));
    expect(((await backing.result()) as BatchResult).id).toBe(result.id);
  });

  it('fails the caller at once on invalid input, with the InvalidBatchInput failure as the cause', async () => {
    const err = await overNexus(`nexus-invalid-${run}`, { endpoint: '/v1/chat/completions' }).catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const operation = (err as WorkflowFailedError).cause;
    expect(operation).toBeInstanceOf(NexusOperationFailure);
    let cause: unknown = operation;
    while (cause instanceof TemporalFailure && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(INVALID_BATCH_INPUT);
    expect((cause as ApplicationFailure).message).toMatch(/input_file/);
  });
});
