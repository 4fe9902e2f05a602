import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { DEFAULT_COMPLETION_WINDOW } from '../contract/defaults';
import type { BatchResult, BatchStorageRefs } from '../contract/start-batch';
import type { Batch } from '../domain/batch';
import { newBatch } from '../domain/batch-state';
import { INVALID_BATCH_INPUT } from '../domain/failures';
import {
  BATCH_CREATED_AT_SA,
  BATCH_CREATED_SEQ_SA,
  BATCH_ID_SA,
  BATCH_STATUS_SA,
  BATCH_TENANT_SA,
  getBatchQuery,
} from './definitions';
import type { BatchWorkflowInput, PreparedBatch } from './types';

// A batch started from Temporal (README, "Starting batches from Temporal") gets here what the API
// does before it starts a workflow: its input checked, a batch id, timestamps, search attributes
// and memo. New code on a path no earlier batch took: older histories replay unchanged.

const { prepareBatch } = proxyActivities<BatchActivities>({
  // It may copy an input file of up to MAX_UPLOAD_BYTES from a storage reference.
  startToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '1 second',
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [INVALID_BATCH_INPUT],
  },
});

/**
 * The API's input: the batch id it minted, the tenant, the file, the timestamps (camelCase, all
 * there since the first version), started with the Batch in the memo as only the API starts it.
 * Anything else is the public contract, checked field by field: a public input with a stray
 * `batchId` is refused as an unknown field rather than trusted.
 */
export function isApiInput(input: unknown): input is BatchWorkflowInput {
  if (typeof input !== 'object' || input === null || !workflowInfo().memo?.batch) return false;
  const i = input as Record<string, unknown>;
  return (
    typeof i.batchId === 'string' &&
    typeof i.tenant === 'string' &&
    typeof i.inputFileId === 'string' &&
    typeof i.createdAt === 'number' &&
    typeof i.expiresAt === 'number'
  );
}

/**
 * Checks a StartBatchInput and makes the batch visible to the HTTP API. Bad input fails the
 * workflow at once with an InvalidBatchInput failure naming the field.
 */
export async function startDirect(
  raw: unknown,
): Promise<{ input: BatchWorkflowInput; refs: BatchStorageRefs }> {
  const batchId = `batch_${uuid4().replace(/-/g, '')}`;
  const createdMs = Date.now();
  // Until the batch proper takes over the query (a few ms), progress reads as `validating`.
  const createdAt = Math.floor(createdMs / 1000);
  setHandler(getBatchQuery, () => provisionalBatch(raw, batchId, createdAt));
  let prepared: PreparedBatch;
  try {
    // Not cancellable: a cancellation that comes meanwhile reaches the batch, which then drains at once.
    prepared = await CancellationScope.nonCancellable(() => prepareBatch({ input: raw, batchId }));
  } catch (err) {
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    if (cause instanceof ApplicationFailure && cause.type === INVALID_BATCH_INPUT) {
      const { message, details } = cause;
      throw ApplicationFailure.create({
        message,
        type: INVALID_BATCH_INPUT,
        details: details ?? undefined,
        nonRetryable: true,
      });
    }
    const message = `preparing the batch failed: ${cause instanceof Error ? cause.message : String(cause)}`;
    throw ApplicationFailure.create({ message, type: 'BatchPrepareFailed', nonRetryable: true });
  }
  const { refs, windowSeconds, ...fields } = prepared;
  const input: BatchWorkflowInput = { ...fields, batchId, createdAt, expiresAt: createdAt + windowSeconds };
  // What the API sets when it starts a workflow: the batch is listed and read like any other.
  upsertSearchAttributes({
    [BATCH_ID_SA.name]: [batchId],
    [BATCH_TENANT_SA.name]: [input.tenant],
    [BATCH_CREATED_AT_SA.name]: [createdAt],
    [BATCH_CREATED_SEQ_SA.name]: [createdMs * 1000],
    [BATCH_STATUS_SA.name]: ['validating'],
  });
  upsertMemo({ batch: newBatch(input), options: input.options ?? null });
  return { input, refs };
}

/** The batch as it reads while its input is being checked: what the input says, as is. */
function provisionalBatch(raw: unknown, batchId: string, createdAt: number): Batch {
  const given = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  return newBatch({
    batchId,
    endpoint: text(given.endpoint, ''),
    inputFileId: text(given.input_file_id, ''),
    completionWindow: text(given.completion_window, DEFAULT_COMPLETION_WINDOW),
    createdAt,
    expiresAt: createdAt,
    metadata: null,
  });
}

/** The workflow's result for a batch started from Temporal: the final Batch and where its files are. */
export function withStorageRefs(batch: Batch, refs: BatchStorageRefs): BatchResult {
  return {
    ...batch,
    x_storage: {
      input_file: refs.input_file,
      output_file: batch.output_file_id ? refs.output_file : null,
      error_file: batch.error_file_id ? refs.error_file : null,
    },
  };
}
