import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

// Random bytes are drawn 64 KiB at a time: one syscall per ~2,700 ids instead of one per id
// (an output line id is made for every request, on the hot path).
const POOL_SIZE = 64 * 1024;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomToken(length: number): string {
  if (offset + length > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[pool[offset + i] % ALPHABET.length];
  offset += length;
  return out;
}

/**
 * Our id formats: a prefix and 24 letters or digits. Up to 64 are accepted, so a longer future
 * format still reads while no id can come near a file-name or workflow-id limit. Every id a
 * request names is checked with these before it reaches storage or Temporal.
 */
export const FILE_ID_PATTERN = /^file-[A-Za-z0-9]{1,64}$/;
export const BATCH_ID_PATTERN = /^batch_[A-Za-z0-9]{1,64}$/;
export const isFileId = (id: unknown): id is string => typeof id === 'string' && FILE_ID_PATTERN.test(id);
export const isBatchId = (id: unknown): id is string => typeof id === 'string' && BATCH_ID_PATTERN.test(id);

export const newFileId = (): string => `file-${randomToken(24)}`;
export const newBatchId = (): string => `batch_${randomToken(24)}`;
export const newRequestLineId = (): string => `batch_req_${randomToken(24)}`;
/** The `x-request-id` of every answer of our API, in OpenAI's `req_…` form. */
export const newApiRequestId = (): string => `req_${randomToken(24)}`;
/** For answers whose gateway sent no x-request-id. */
export const newUpstreamRequestId = (): string => `req_${randomToken(24)}`;

/**
 * A file id derived from a batch, so a retried finalize (or the import of a batch's input from a
 * storage reference) registers the same file again, not a second one.
 */
export function derivedFileId(batchId: string, role: 'input' | 'output' | 'error'): string {
  const digest = createHash('sha256').update(`${batchId}:${role}`).digest('base64url').replace(/[-_]/g, '');
  return `file-${digest.slice(0, 24)}`;
}

/**
 * The batch id of a create carrying an Idempotency-Key: the same tenant, key and key window
 * always give the same id, so a retried create finds the workflow (= batch) the first one started.
 */
export function idempotentBatchId(tenant: string, key: string, window: number): string {
  const digest = createHash('sha256')
    .update(`${tenant}\0${key}\0${window}`)
    .digest('base64url')
    .replace(/[-_]/g, '');
  return `batch_${digest.slice(0, 24)}`;
}

// The last creation order key handed out by this process (see newCreationSeq).
let lastCreationSeq = 0;

/**
 * A batch's place in the newest-first list: microseconds since the epoch, strictly increasing
 * within this process, so batches created in the same millisecond still keep their order.
 * `Math.floor(seq / 1e6)` is the batch's `created_at`.
 */
export function newCreationSeq(nowMs: number = Date.now()): number {
  lastCreationSeq = Math.max(nowMs * 1000, lastCreationSeq + 1);
  return lastCreationSeq;
}
