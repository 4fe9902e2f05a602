import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** ObjectStore on the local filesystem: atomic writes via a temp file and rename. */
export class FsObjectStore implements ObjectStore {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (key.includes('..') || key.startsWith('/')) throw new Error(`invalid storage key: ${key}`);
    return join(this.root, key);
  }

  private async tempFor(key: string): Promise<{ final: string; temp: string }> {
    const final = this.path(key);
    await mkdir(dirname(final), { recursive: true });
    return { final, temp: `${final}.tmp-${randomBytes(6).toString('hex')}` };
  }

  async put(key: string, data: string | Buffer): Promise<void> {
    const { final, temp } = await this.tempFor(key);
    try {
      await writeFile(temp, data);
      await rename(temp, final);
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
      await rename(temp, final);
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
    return {
      async write(chunk) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buf.length;
        await handle.write(buf);
      },
      async commit() {
        await handle.close();
        await rename(temp, final);
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
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, 'a');
    // Lines appended while a write is under way are coalesced into the next single write(2):
    // under load one syscall carries many results. Each append resolves once its line is written.
    let pending: string[] = [];
    let waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
    let writing: Promise<void> | null = null;
    const drain = async () => {
      while (pending.length > 0) {
        const data = pending.join('');
        const done = waiters;
        pending = [];
        waiters = [];
        try {
          await handle.write(data);
          for (const w of done) w.resolve();
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
          writing ??= drain();
        });
      },
      async close() {
        while (writing) await writing;
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
