import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { ObjectAppender, ObjectStore, ObjectWriter } from './object-store';
import { TooLargeError } from './object-store';

/** No object under the key: nothing there, or a path through a file (ENOTDIR), or a directory (EISDIR). */
const isNotFound = (err: unknown): boolean => {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
};

/** A temporary file of a write in progress: `<final name>.tmp-<12 hex digits>`. */
const TEMP_NAME = /\.tmp-[0-9a-f]{12}$/;

/** Filesystems (or platforms) that cannot fsync a directory say so with one of these: nothing to do there. */
const NO_DIR_SYNC = new Set(['EINVAL', 'ENOTSUP', 'EISDIR', 'EPERM', 'EACCES']);

export interface FsStoreOptions {
  /**
   * fsync before a write counts as done (default true): an object's data before its rename and the
   * directory after it; each journal append (grouped: one fdatasync covers every line written
   * before it began); the directory of a new journal or directory. False only for tests and
   * benchmarks: writes then reach the OS only (they survive a crash of the process, not a power loss).
   */
  sync?: boolean;
}

/**
 * ObjectStore on the local filesystem: atomic writes via a temp file and rename, made durable by
 * fsync (see FsStoreOptions.sync) before a write resolves.
 */
export class FsObjectStore implements ObjectStore {
  private readonly sync: boolean;

  constructor(
    private readonly root: string,
    opts: FsStoreOptions = {},
  ) {
    this.sync = opts.sync ?? true;
  }

  private path(key: string): string {
    if (key.includes('..') || key.startsWith('/')) throw new Error(`invalid storage key: ${key}`);
    return join(this.root, key);
  }

  /** fsyncs a directory, so the entries created or renamed in it survive a power loss. */
  private async syncDir(dir: string): Promise<void> {
    if (!this.sync) return;
    let handle;
    try {
      handle = await open(dir, 'r');
      await handle.sync();
    } catch (err) {
      if (!NO_DIR_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    } finally {
      await handle?.close();
    }
  }

  /**
   * Creates `dir` and its missing parents; when this call created any, fsyncs each of them and the
   * parent of the first, so the new directories survive a power loss with what is written in them.
   * (A directory another caller is creating at the same moment is made durable by that caller; on
   * journaling filesystems such as ext4 and XFS a later fsync commits it anyway, in order.)
   */
  private async ensureDir(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (!this.sync || first === undefined) return;
    const created: string[] = [];
    for (let d = dir; d.length >= first.length; d = dirname(d)) created.push(d);
    for (const d of [dirname(first), ...created.reverse()]) await this.syncDir(d);
  }

  private async tempFor(key: string): Promise<{ final: string; temp: string }> {
    const final = this.path(key);
    await this.ensureDir(dirname(final));
    return { final, temp: `${final}.tmp-${randomBytes(6).toString('hex')}` };
  }

  /** Makes a written (and, with sync, flushed) temp file the object: the rename, then its directory. */
  private async publish(temp: string, final: string): Promise<void> {
    await rename(temp, final);
    await this.syncDir(dirname(final));
  }

  async put(key: string, data: string | Buffer): Promise<void> {
    const { final, temp } = await this.tempFor(key);
    try {
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(data);
        if (this.sync) await handle.datasync();
      } finally {
        await handle.close();
      }
      await this.publish(temp, final);
    } catch (err) {
      // A full disk leaves a partial temp file: never leave it taking up the space.
      await rm(temp, { force: true });
      throw err;
    }
  }

  async putStream(
    key: string,
    source: Readable,
    opts: { maxBytes?: number } = {},
  ): Promise<{ bytes: number }> {
    const { final, temp } = await this.tempFor(key);
    let bytes = 0;
    const limit = opts.maxBytes ?? Infinity;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > limit) cb(new TooLargeError(limit));
        else cb(null, chunk);
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(temp));
      if (this.sync) {
        // fsync is per file, not per descriptor: a second descriptor flushes what the stream wrote.
        const handle = await open(temp, 'r+');
        try {
          await handle.datasync();
        } finally {
          await handle.close();
        }
      }
      await this.publish(temp, final);
      return { bytes };
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async createWriter(key: string): Promise<ObjectWriter> {
    const { final, temp } = await this.tempFor(key);
    const handle = await open(temp, 'w');
    let bytes = 0;
    const sync = this.sync;
    const publish = () => this.publish(temp, final);
    return {
      async write(chunk) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buf.length;
        await handle.write(buf);
      },
      async commit() {
        if (sync) await handle.datasync();
        await handle.close();
        await publish();
        return { bytes };
      },
      async abort() {
        await handle.close().catch(() => undefined);
        await rm(temp, { force: true });
      },
    };
  }

  async openAppender(key: string): Promise<ObjectAppender> {
    const path = this.path(key);
    await this.ensureDir(dirname(path));
    const handle = await open(path, 'a');
    const sync = this.sync;
    try {
      // The journal may be new: its directory entry is made durable before any line counts.
      await this.syncDir(dirname(path));
    } catch (err) {
      await handle.close();
      throw err;
    }
    // Lines appended in the same turn of the event loop, or while a write(2) is under way, are
    // coalesced into one write, and written lines are made durable by group commit: one fdatasync
    // covers every line written before it began, and lines keep being written while it runs. Each
    // append resolves once its line is written — and, with sync, flushed to disk. A line never
    // waits for a flush to be written, so a killed process loses no more than before; a power
    // loss, only unresolved lines.
    type Waiter = { resolve: () => void; reject: (err: unknown) => void };
    let pending: string[] = [];
    let waiters: Waiter[] = [];
    let written: Waiter[] = [];
    let writing: Promise<void> | null = null;
    let flushing: Promise<void> | null = null;
    const flush = async () => {
      while (written.length > 0) {
        const done = written;
        written = [];
        try {
          await handle.datasync();
          for (const w of done) w.resolve();
        } catch (err) {
          for (const w of done) w.reject(err);
        }
      }
      flushing = null;
    };
    const drain = async () => {
      while (pending.length > 0) {
        const data = pending.join('');
        const done = waiters;
        pending = [];
        waiters = [];
        try {
          await handle.write(data);
          if (!sync) {
            for (const w of done) w.resolve();
            continue;
          }
          written.push(...done);
          flushing ??= flush();
        } catch (err) {
          for (const w of done) w.reject(err);
        }
      }
      writing = null;
    };
    return {
      append(line) {
        return new Promise<void>((resolve, reject) => {
          pending.push(line);
          waiters.push({ resolve, reject });
          // The first write waits for the end of this turn of the event loop, so results that
          // arrive together (one poll of many sockets) go out in one write(2).
          writing ??= new Promise<void>((r) => setImmediate(r)).then(drain);
        });
      },
      async close() {
        while (writing || flushing) await (writing ?? flushing);
        await handle.close();
      },
    };
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async getStream(key: string): Promise<Readable | null> {
    const path = this.path(key);
    try {
      const handle = await open(path, 'r');
      // A directory opens, but it is not an object (a storage reference may name one).
      if ((await handle.stat()).isDirectory()) {
        await handle.close();
        return null;
      }
      return handle.createReadStream({ highWaterMark: 256 * 1024 });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.path(key))).size;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.path(prefix), { recursive: true, force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const base = this.path(prefix);
    try {
      const entries = await readdir(base, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile() && !e.name.includes('.tmp-'))
        .map((e) => relative(this.root, join(e.parentPath, e.name)).split(sep).join('/'));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  /** `*.tmp-*` files (writes that never committed, e.g. of a killed process) last modified before `olderThanMs` ago. */
  async listStaleTemporaries(olderThanMs: number): Promise<{ key: string; bytes: number }[]> {
    let entries;
    try {
      entries = await readdir(this.root, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const cutoff = Date.now() - olderThanMs;
    const stale: { key: string; bytes: number }[] = [];
    for (const e of entries) {
      if (!e.isFile() || !TEMP_NAME.test(e.name)) continue;
      const path = join(e.parentPath, e.name);
      try {
        const s = await stat(path);
        if (s.mtimeMs < cutoff)
          stale.push({ key: relative(this.root, path).split(sep).join('/'), bytes: s.size });
      } catch (err) {
        if (!isNotFound(err)) throw err; // committed or cleaned up since the listing
      }
    }
    return stale;
  }

  referenceOf(key: string): string {
    return key;
  }

  /** A reference is a '/'-separated path relative to the storage root, without `.` or `..` steps. */
  keyOf(reference: string): string | null {
    const steps = reference.split('/');
    const plain = (s: string) => s !== '' && s !== '.' && s !== '..' && !/[\\\0]/.test(s);
    return reference.length <= 1024 && steps.every(plain) ? reference : null;
  }
}
