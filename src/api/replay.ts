import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { ApiError } from '../domain/api-error';
import { Metadata, type Batch } from '../domain/batch';
import { isTerminal, type BatchOptions } from '../domain/batch-state';
import { checkCompletionWindow } from '../domain/batch-request';
import { newBatchInputFile, type StoredFile } from '../domain/file';
import { newBatchId, newCreationSeq, newFileId } from '../ids';
import type { FileRepository } from '../storage/file-repository';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import { forgetReplay, recordReplay } from '../storage/replay-links';
import type { BatchService } from './batch-service';

/** Body of POST /v1/batches/{id}/replay (our extension). Strict: a misspelt `codes` must not replay everything. */
export const ReplayBody = z
  .object({
    codes: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
    completion_window: z.string().optional(),
    metadata: Metadata.nullish(),
  })
  .strict();
export type ReplayBody = z.infer<typeof ReplayBody>;

export interface ReplayDeps {
  batches: BatchService;
  files: FileRepository;
  store: ObjectStore;
  completionWindows: string[];
}

// Output files are flushed in pieces of this size rather than one write per line.
const WRITE_CHUNK_CHARS = 256 * 1024;

/**
 * Dead-letter replay: a new batch made of the original request lines of a finished batch's
 * failed lines (all, or those matching `codes`), linked to the original both ways.
 */
export async function replayBatch(
  deps: ReplayDeps,
  tenant: string,
  id: string,
  body: ReplayBody,
  /** `admit` checks the tenant's quota before anything is written; `tenantShare` is the caller's now. */
  opts: { admit?: () => Promise<void>; tenantShare?: BatchOptions['tenantShare'] } = {},
): Promise<Batch> {
  const original = await deps.batches.get(tenant, id);
  if (!original) throw ApiError.notFound('batch', id);
  if (!isTerminal(original.status)) {
    throw new ApiError(
      409,
      'invalid_request_error',
      `Cannot replay a batch with status '${original.status}'; only completed, failed, expired or cancelled batches can be replayed.`,
      null,
      'batch_not_finished',
    );
  }
  const completionWindow = body.completion_window ?? original.completion_window;
  const windowSeconds = checkCompletionWindow(completionWindow, deps.completionWindows);

  const codes = body.codes ? new Set(body.codes) : null;
  if (!original.error_file_id) throw nothingToReplay(original.id, codes);
  const errorLines = await deps.files.content(tenant, original.error_file_id);
  if (!errorLines) throw fileUnavailable('error', original.error_file_id);
  const selected = await selectFailed(errorLines, codes);
  if (selected.size === 0) throw nothingToReplay(original.id, codes);
  await opts.admit?.();

  const input = await deps.files.content(tenant, original.input_file_id);
  if (!input) throw fileUnavailable('input', original.input_file_id);
  const file = await writeReplayInput(deps, tenant, original.id, input, selected);
  if (!file) throw nothingToReplay(original.id, codes);

  const batchId = newBatchId();
  const seq = newCreationSeq();
  const createdAt = Math.floor(seq / 1e6);
  // The link goes first: a crash before the start leaves a link to a batch that reads as
  // missing, never a replay its original does not know of (which invites a costly second one).
  await recordReplay(deps.store, tenant, original.id, batchId);
  try {
    // The original's governance options (schema, thresholds, budget, captured headers) apply
    // again, so a replay cannot slip past checks the original enforced.
    const stored = await deps.batches.creationOptions(tenant, original.id);
    const options =
      opts.tenantShare === undefined ? stored : { ...(stored ?? {}), tenantShare: opts.tenantShare };
    return await deps.batches.start(
      {
        batchId,
        tenant,
        endpoint: original.endpoint,
        inputFileId: file.id,
        completionWindow,
        createdAt,
        expiresAt: createdAt + windowSeconds,
        metadata: body.metadata === undefined ? original.metadata : body.metadata,
        outputTtlSeconds: null,
        replayOf: original.id,
        ...(options ? { options } : {}),
      },
      { seq },
    );
  } catch (err) {
    await forgetReplay(deps.store, tenant, original.id, batchId);
    await deps.files.delete(tenant, file.id);
    throw err;
  }
}

/**
 * Whether an error-file line is replayed: every line when `codes` is null, else a line whose
 * `error.code`, HTTP status or `x_governance.outcome` is one of them. Returns its custom_id.
 */
export function selectedCustomId(text: string, codes: ReadonlySet<string> | null): string | null {
  const line = JSON.parse(text) as {
    custom_id?: unknown;
    response?: { status_code?: unknown } | null;
    error?: { code?: unknown } | null;
    x_governance?: { outcome?: unknown } | null;
  };
  if (typeof line.custom_id !== 'string') return null;
  if (!codes) return line.custom_id;
  const keys = [line.error?.code, line.response?.status_code, line.x_governance?.outcome];
  const matches = (k: unknown) => (typeof k === 'string' || typeof k === 'number') && codes.has(String(k));
  return keys.some(matches) ? line.custom_id : null;
}

/** The custom_ids to replay, read from the error file one line at a time. */
async function selectFailed(errorLines: Readable, codes: ReadonlySet<string> | null): Promise<Set<string>> {
  const selected = new Set<string>();
  try {
    for await (const text of createInterface({ input: errorLines, crlfDelay: Infinity })) {
      if (!text.trim()) continue;
      const customId = selectedCustomId(text, codes);
      if (customId !== null) selected.add(customId);
    }
  } finally {
    errorLines.destroy();
  }
  return selected;
}

/**
 * Streams the original input and copies the selected lines verbatim (numbers, key order and
 * unknown fields as the client sent them) into a new `batch` file; null when none matched.
 */
async function writeReplayInput(
  deps: ReplayDeps,
  tenant: string,
  originalId: string,
  input: Readable,
  selected: Set<string>,
): Promise<StoredFile | null> {
  const id = newFileId();
  const writer = await deps.store.createWriter(layout.fileContent(tenant, id));
  let written = 0;
  let bytes: number;
  try {
    let pending = '';
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      const customId = customIdOf(text);
      // Deleting as we go keeps a custom_id from being copied twice and shrinks the set.
      if (customId === null || !selected.delete(customId)) continue;
      pending += text.trim() + '\n';
      written++;
      if (pending.length >= WRITE_CHUNK_CHARS) {
        await writer.write(pending);
        pending = '';
      }
    }
    if (written === 0) {
      await writer.abort();
      return null;
    }
    if (pending) await writer.write(pending);
    ({ bytes } = await writer.commit());
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    input.destroy();
  }
  const file = newBatchInputFile({ id, tenant, filename: `${originalId}_replay.jsonl`, bytes });
  await deps.files.save(file);
  return file;
}

/** The custom_id of an input line; null for blank or unparsable lines (ingest rejected those). */
function customIdOf(text: string): string | null {
  if (!text.trim()) return null;
  try {
    const line = JSON.parse(text) as { custom_id?: unknown };
    return typeof line.custom_id === 'string' ? line.custom_id : null;
  } catch {
    return null;
  }
}

function nothingToReplay(id: string, codes: ReadonlySet<string> | null): ApiError {
  const which = codes ? ` matching ${[...codes].map((c) => `'${c}'`).join(', ')}` : '';
  return ApiError.invalid(
    `Batch '${id}' has no failed lines${which} to replay.`,
    codes ? 'codes' : null,
    'nothing_to_replay',
  );
}

function fileUnavailable(role: 'input' | 'error', fileId: string): ApiError {
  return new ApiError(
    409,
    'invalid_request_error',
    `The ${role} file '${fileId}' of this batch has expired or was deleted; it cannot be replayed.`,
    null,
    `${role}_file_unavailable`,
  );
}
