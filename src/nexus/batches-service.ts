// The Nexus service of the batch gateway: what callers in other namespaces import to start a batch
// over a Nexus endpoint. Workflow-safe (callers use it in workflow code): only nexus-rpc and types.
import * as nexus from 'nexus-rpc';
import type { BatchResult, StartBatchInput } from '../contract/start-batch';

export type { BatchResult, StartBatchInput };

export const BATCHES_SERVICE_NAME = 'batches';

export const batchesService = nexus.service(BATCHES_SERVICE_NAME, {
  /** Runs one batch (`StartBatchInput`, as for a direct start) and completes with its `BatchResult`. */
  startBatch: nexus.operation<StartBatchInput, BatchResult>(),
});
