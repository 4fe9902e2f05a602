// Starting and steering batches from another Temporal application (README, "Starting batches
// from Temporal"): the workflow, its public input and result, and a few functions in the style
// of the Temporal samples' clients. Needs only a @temporalio/client Client of our namespace.
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { TypedSearchAttributes } from '@temporalio/common';
import type { BatchResult, BatchWorkflow, StartBatchInput } from '../contract/start-batch';
import { DEFAULT_TASK_QUEUE } from '../contract/start-batch';
import type { Batch } from '../domain/batch';
import { BATCH_WORKFLOW_TYPE, cancelSignal, getBatchQuery } from '../workflows/definitions';

export { batchWorkflow } from '../workflows/batch';
export { DEFAULT_TASK_QUEUE, START_BATCH_CONTRACT_VERSION } from '../contract/start-batch';
export type { BatchResult, BatchStorageRefs, BatchWorkflow, StartBatchInput } from '../contract/start-batch';
export type { Batch } from '../domain/batch';
export { INVALID_BATCH_INPUT } from '../domain/failures';
export {
  BATCH_CREATED_AT_SA,
  BATCH_STATUS_SA,
  BATCH_TENANT_SA,
  BATCH_WORKFLOW_TYPE,
} from '../workflows/definitions';

export type BatchHandle = WorkflowHandle<BatchWorkflow>;

export interface StartBatchOptions {
  /**
   * Your business id, e.g. `enrich-2026-12-01`: while a batch runs under it, a second start is
   * refused. The batch id (`batch_…`) is another: it is in the result and in `batchProgress`.
   */
  workflowId: string;
  /** The task queue our workers poll (TEMPORAL_TASK_QUEUE; default `batch-gateway`). */
  taskQueue?: string;
  /** Search attributes of your own, registered in the namespace; ours are set by the workflow. */
  searchAttributes?: SearchAttributePair[];
}

/** Starts a batch and returns its handle once the server has accepted the start. */
export async function startBatch(
  client: Client,
  input: StartBatchInput,
  opts: StartBatchOptions,
): Promise<BatchHandle> {
  return client.workflow.start<BatchWorkflow>(BATCH_WORKFLOW_TYPE, {
    workflowId: opts.workflowId,
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    args: [input],
    ...(opts.searchAttributes
      ? { typedSearchAttributes: new TypedSearchAttributes(opts.searchAttributes) }
      : {}),
  });
}

/** Starts a batch and waits for its end: the final Batch (completed, failed, expired or cancelled). */
export async function runBatch(
  client: Client,
  input: StartBatchInput,
  opts: StartBatchOptions,
): Promise<BatchResult> {
  return (await startBatch(client, input, opts)).result();
}

/** The handle of a batch started earlier under `workflowId`. */
export function getBatchHandle(client: Client, workflowId: string): BatchHandle {
  return client.workflow.getHandle<BatchWorkflow>(workflowId);
}

/**
 * The batch as it is now (status, request_counts, usage, governance), from the running workflow.
 * A query needs a worker; the HTTP API's `GET /v1/batches/{id}` answers without one.
 */
export async function batchProgress(handle: BatchHandle): Promise<Batch> {
  return handle.query(getBatchQuery);
}

/** Asks the batch to stop: it drains, then ends `cancelled` with the output of what ran. */
export async function cancelBatch(handle: BatchHandle): Promise<void> {
  await handle.signal(cancelSignal);
}
