// Running a batch from another team's workflow: a child workflow of type `batchWorkflow` on our task
// queue, started by type name, so the caller bundles none of our workflow code. Workflow-safe: this
// file imports only @temporalio/workflow, types and pure constants (no zod, no Node built-ins).
import { ParentClosePolicy, startChild, type ChildWorkflowHandle } from '@temporalio/workflow';
import { DEFAULT_TASK_QUEUE } from '../contract/defaults';
import type { BatchResult, BatchWorkflow, StartBatchInput } from '../contract/start-batch';
import { BATCH_WORKFLOW_TYPE } from '../workflows/definitions';

export type { BatchResult, BatchWorkflow, StartBatchInput };

export interface BatchChildOptions {
  /** The child's workflow id: any business id of the caller (the batch id, `batch_…`, is minted by the batch). */
  workflowId: string;
  /** The task queue our batch workers poll (default `batch-gateway`). */
  taskQueue?: string;
}

/** Starts a batch as a child workflow and returns its handle (`handle.result()` is the `BatchResult`). */
export function startBatchChild(
  input: StartBatchInput,
  opts: BatchChildOptions,
): Promise<ChildWorkflowHandle<BatchWorkflow>> {
  return startChild<BatchWorkflow>(BATCH_WORKFLOW_TYPE, {
    args: [input],
    workflowId: opts.workflowId,
    taskQueue: opts.taskQueue ?? DEFAULT_TASK_QUEUE,
    // Not the default TERMINATE: a terminated batch never finalizes (no output or error file, nothing
    // for its finished requests). REQUEST_CANCEL makes it drain and end `cancelled` with partial output.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
}

/**
 * Runs a batch as a child workflow and returns its final `BatchResult` (status `completed`, `failed`,
 * `expired` or `cancelled`). Cancelling the caller's scope cancels the batch, which drains and still
 * returns its result. Invalid input fails with an ApplicationFailure of type `InvalidBatchInput`.
 */
export async function executeBatch(input: StartBatchInput, opts: BatchChildOptions): Promise<BatchResult> {
  const handle = await startBatchChild(input, opts);
  return handle.result();
}
