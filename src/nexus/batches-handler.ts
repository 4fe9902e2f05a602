// The handler of the `batches` Nexus service, registered on our worker: each `startBatch` operation
// is backed by one `batchWorkflow` run on our task queue (its result completes the operation).
import { startWorkflow, WorkflowRunOperationHandler } from '@temporalio/nexus';
import * as nexus from 'nexus-rpc';
import type { BatchResult, BatchWorkflow, StartBatchInput } from '../contract/start-batch';
import { BATCH_WORKFLOW_TYPE } from '../workflows/definitions';
import { batchesService } from './batches-service';

/** The workflow id of the batch backing one Nexus operation. */
export const nexusBatchWorkflowId = (requestId: string): string => `nexus-batch-${requestId}`;

/**
 * The handler, starting batches on `taskQueue` (our worker's). Cancelling the operation cancels the
 * workflow, which makes the batch drain and end `cancelled`.
 */
export function batchesServiceHandler(taskQueue: string) {
  return nexus.serviceHandler(batchesService, {
    startBatch: new WorkflowRunOperationHandler<StartBatchInput, BatchResult>((ctx, input) =>
      startWorkflow<BatchWorkflow>(ctx, BATCH_WORKFLOW_TYPE, {
        // From the Nexus request id, which the caller's server keeps for every retry of this
        // operation's start: a retried start (the first answer lost, a handler timeout) finds the
        // batch it already started; a random id would run the file a second time.
        workflowId: nexusBatchWorkflowId(ctx.requestId),
        taskQueue,
        args: [input],
      }),
    ),
  });
}
