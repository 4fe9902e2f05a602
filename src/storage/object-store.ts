import type { Readable } from 'node:stream';

/** A writer that becomes visible under its key only when committed (never half-written). */
export interface ObjectWriter {
  write(chunk: string | Buffer): Promise<void>;
  commit(): Promise<{ bytes: number }>;
  abort(): Promise<void>;
}

/**
 * An append-only journal: each line is written once `append` resolves — with the filesystem store,
 * flushed to disk (fdatasync, one for many concurrent appends), so it survives a power loss of the
 * host, not only a crash of the process.
 */
export interface ObjectAppender {
  append(line: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The one storage interface. Keys are '/'-separated relative paths built by `layout.ts`.
 * The filesystem implementation is the embedded default; S3 implements the same contract.
 */
export interface ObjectStore {
  /** Writes a whole object atomically. */
  put(key: string, data: string | Buffer): Promise<void>;
  /** Streams `source` into `key` atomically; rejects with TooLargeError past `maxBytes`. */
  putStream(key: string, source: Readable, opts?: { maxBytes?: number }): Promise<{ bytes: number }>;
  createWriter(key: string): Promise<ObjectWriter>;
  openAppender(key: string): Promise<ObjectAppender>;
  get(key: string): Promise<Buffer | null>;
  getStream(key: string): Promise<Readable | null>;
  size(key: string): Promise<number | null>;
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<void>;
  /** Keys directly or indirectly under `prefix` (no order guaranteed). */
  list(prefix: string): Promise<string[]>;
  /**
   * The storage reference of a key, for readers that go to storage directly (a path relative to
   * the storage root here, `s3://bucket/key` on S3); `keyOf` is its inverse, null for a reference
   * that does not name an object of this store.
   */
  referenceOf(key: string): string;
  keyOf(reference: string): string | null;
  /**
   * Leftovers of writes that never committed (a process killed mid-write), last modified longer
   * than `olderThanMs` ago, for garbage collection; `delete(key)` removes one. Only stores that
   * leave such objects behind have it (the filesystem store's `*.tmp-*` files; S3 drops incomplete
   * multipart uploads itself, by a bucket lifecycle rule).
   */
  listStaleTemporaries?(olderThanMs: number): Promise<{ key: string; bytes: number }[]>;
}

export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`object exceeds ${limit} bytes`);
  }
}
