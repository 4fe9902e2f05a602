import { ApplicationFailure } from '@temporalio/common';
import { STORAGE_UNWRITABLE } from '../domain/failures';
import type { ObjectAppender, ObjectStore, ObjectWriter } from '../storage/object-store';

/**
 * Error codes of a storage that refuses writes for good: no space, read-only, quota, file too large.
 * A retry hits the same wall (and a chunk retry re-sends requests every time), so these are not retried.
 */
const UNWRITABLE_CODES = new Set(['ENOSPC', 'EROFS', 'EDQUOT', 'EFBIG']);

export function isUnwritable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && UNWRITABLE_CODES.has(code);
}

/** The activity failure for a write storage refused: non-retryable, naming the key and the cause. */
export function unwritableFailure(err: unknown, op: string, key: string): ApplicationFailure {
  const code = (err as NodeJS.ErrnoException).code;
  return ApplicationFailure.create({
    type: STORAGE_UNWRITABLE,
    nonRetryable: true,
    message: `Storage refused to write (${code}) on ${op} of '${key}': ${(err as Error).message}`,
    cause: err instanceof Error ? err : undefined,
  });
}

async function guarded<T>(op: string, key: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw isUnwritable(err) ? unwritableFailure(err, op, key) : err;
  }
}

/**
 * The store as activities see it: every write that fails because storage cannot be written
 * (ENOSPC, EROFS, EDQUOT, EFBIG) becomes a non-retryable STORAGE_UNWRITABLE failure, so the batch
 * ends `failed` with the cause instead of retrying forever. Reads and other errors pass unchanged.
 */
export function guardWrites(store: ObjectStore): ObjectStore {
  const writer = (key: string, w: ObjectWriter): ObjectWriter => ({
    write: (chunk) => guarded('write', key, () => w.write(chunk)),
    commit: () => guarded('commit', key, () => w.commit()),
    abort: () => w.abort(),
  });
  const appender = (key: string, a: ObjectAppender): ObjectAppender => ({
    append: (line) => guarded('append', key, () => a.append(line)),
    close: () => guarded('close', key, () => a.close()),
  });
  return {
    put: (key, data) => guarded('put', key, () => store.put(key, data)),
    putStream: (key, source, opts) => guarded('put', key, () => store.putStream(key, source, opts)),
    createWriter: async (key) => writer(key, await guarded('create', key, () => store.createWriter(key))),
    openAppender: async (key) => appender(key, await guarded('open', key, () => store.openAppender(key))),
    get: (key) => store.get(key),
    getStream: (key) => store.getStream(key),
    size: (key) => store.size(key),
    delete: (key) => guarded('delete', key, () => store.delete(key)),
    deletePrefix: (prefix) => guarded('delete', prefix, () => store.deletePrefix(prefix)),
    list: (prefix) => store.list(prefix),
    referenceOf: (key) => store.referenceOf(key),
    keyOf: (reference) => store.keyOf(reference),
    ...(store.listStaleTemporaries
      ? { listStaleTemporaries: (olderThanMs: number) => store.listStaleTemporaries!(olderThanMs) }
      : {}),
  };
}
