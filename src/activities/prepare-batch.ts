import { basename } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ZodError } from 'zod';
import { StartBatchInput, type BatchStorageRefs } from '../contract/start-batch';
import { ApiError } from '../domain/api-error';
import { checkCompletionWindow, checkEndpoint, requireBatchInputFile } from '../domain/batch-request';
import { clip } from '../domain/clip';
import { newBatchInputFile } from '../domain/file';
import { INVALID_BATCH_INPUT } from '../domain/failures';
import { extensionOptions } from '../governance/extension-options';
import { derivedFileId } from '../ids';
import { layout } from '../storage/layout';
import { TooLargeError } from '../storage/object-store';
import type { PrepareInput, PreparedBatch } from '../workflows/types';
import type { ActivityRuntime } from './runtime';
import { secretBoxFor } from '../security/secret-box';
import { deploymentWebhook, sealWebhookTarget } from '../webhooks/target';

/**
 * Checks the input of a batch started from Temporal (StartBatchInput) as `POST /v1/batches` checks
 * its body, resolves the input file, stores the options, and records which workflow execution
 * runs the batch, so the HTTP API finds it by batch id. Bad input fails non-retryably, naming the
 * field. Safe to retry: every write is keyed by the batch id.
 */
export async function prepareBatch(
  rt: ActivityRuntime,
  { input, batchId }: PrepareInput,
): Promise<PreparedBatch> {
  try {
    const parsed = StartBatchInput.safeParse(input, { reportInput: true });
    if (!parsed.success) throw invalidInput(parsed.error);
    const body = parsed.data;
    const { tenant } = body;
    const endpoint = checkEndpoint(body.endpoint);
    const windowSeconds = checkCompletionWindow(body.completion_window, rt.config.COMPLETION_WINDOWS);
    const inputFileId =
      body.input_file_id !== undefined
        ? (await requireBatchInputFile(rt.files, tenant, body.input_file_id)).id
        : await importStorageFile(rt, tenant, batchId, body.input_file as string);
    const options = await extensionOptions(rt.store, tenant, batchId, { ...body, endpoint });
    const { workflowExecution, scheduledTimestampMs } = Context.current().info;
    // About when the workflow started (its first task scheduled this): time to first upstream call.
    options.createdAtMs = scheduledTimestampMs;
    // A batch started from Temporal sends its events to this worker's WEBHOOK_URL, if set.
    const webhook = deploymentWebhook(rt.config);
    if (webhook)
      options.webhookKey = await sealWebhookTarget(rt.store, secretBoxFor(rt.config), tenant, webhook);
    if (workflowExecution)
      await rt.store.put(layout.batchWorkflow(tenant, batchId), JSON.stringify(workflowExecution));
    const ref = (fileId: string) => rt.store.referenceOf(layout.fileContent(tenant, fileId));
    const refs: BatchStorageRefs = {
      input_file: ref(inputFileId),
      output_file: ref(derivedFileId(batchId, 'output')),
      error_file: ref(derivedFileId(batchId, 'error')),
    };
    return {
      tenant,
      endpoint,
      inputFileId,
      completionWindow: body.completion_window,
      windowSeconds,
      metadata: body.metadata ?? null,
      outputTtlSeconds: body.output_expires_after?.seconds ?? null,
      options,
      refs,
    };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    throw ApplicationFailure.nonRetryable(err.message, INVALID_BATCH_INPUT, {
      param: err.param,
      code: err.code,
    });
  }
}

/** A zod failure of the input, as the HTTP API words it; an unknown field is named (a typo is not ignored). */
function invalidInput(error: ZodError): ApiError {
  const issue = error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const field = clip(String(issue.keys[0]));
    return ApiError.invalid(
      `Unknown field '${field}' in the batch input (StartBatchInput, version 1).`,
      field,
    );
  }
  if (issue.path.length === 0)
    return ApiError.invalid('The input of batchWorkflow must be a JSON object (StartBatchInput).', null);
  return ApiError.fromZod(error);
}

/**
 * Registers the object a storage reference names as a Files API file of the tenant (purpose `batch`),
 * so the batch reads like any other: the copy keeps the batch's input fixed while it runs.
 */
async function importStorageFile(
  rt: ActivityRuntime,
  tenant: string,
  batchId: string,
  reference: string,
): Promise<string> {
  const key = rt.store.keyOf(reference);
  if (key === null)
    throw ApiError.invalid(
      `Invalid value for 'input_file': '${clip(reference)}' is not a reference into this deployment's storage.`,
      'input_file',
    );
  const source = await rt.store.getStream(key);
  if (!source)
    throw new ApiError(
      404,
      'not_found_error',
      `No such object in storage: '${clip(reference)}'`,
      'input_file',
    );
  const id = derivedFileId(batchId, 'input');
  let bytes: number;
  try {
    ({ bytes } = await rt.store.putStream(layout.fileContent(tenant, id), source, {
      maxBytes: rt.config.MAX_UPLOAD_BYTES,
    }));
  } catch (err) {
    if (!(err instanceof TooLargeError)) throw err;
    throw ApiError.invalid(
      `Invalid value for 'input_file': larger than the maximum of ${rt.config.MAX_UPLOAD_BYTES} bytes.`,
      'input_file',
    );
  }
  await rt.files.save(newBatchInputFile({ id, tenant, filename: basename(reference), bytes }));
  return id;
}
