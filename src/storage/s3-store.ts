import { randomBytes } from 'node:crypto';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError } from '../config';
import type { ObjectAppender, ObjectStore, ObjectWriter } from './object-store';
import { TooLargeError } from './object-store';
import { parseS3Url } from './storage-url';

/**
 * Journals on S3 (openAppender). An S3 object cannot grow, and rewriting a growing object on
 * every append would cost O(n²) bytes and lose appends of concurrent writers. So a journal is:
 *
 *   <key>.parts/<seq>   one immutable object per flush of an appender (seq: 10 digits, from 1),
 *                       created with `If-None-Match: *` so two appenders never take the same seq;
 *   <key>               optional, the compaction: the bytes of parts 1..N, with user metadata
 *                       `journal-parts: N`, written when an appender closes.
 *
 * Reading the key gives the compaction (if any) followed by the parts after N, in seq order. Parts
 * are never deleted except with the journal (delete, deletePrefix), so a reader, a compaction and
 * appenders never race: whatever a reader sees is a prefix of the journal plus whole flushes.
 */
const PARTS = '.parts/';
const SEQ_DIGITS = 10;
/** User metadata of a compaction: the parts it holds. */
const META_COMPACTED = 'journal-parts';
/** User metadata of a part: which appender's which flush wrote it (to recognise a retried PUT). */
const META_WRITER = 'journal-writer';
const PART_KEY = /^(.+)\.parts\/(\d{10})$/;

const seqName = (seq: number) => String(seq).padStart(SEQ_DIGITS, '0');

/** Multipart part size: S3's minimum; an upload holds at most QUEUE_SIZE parts in memory. */
const PART_SIZE = 5 * 1024 * 1024;
const QUEUE_SIZE = 2;
/** Parallel GETs when a journal is read back from its parts. */
const READ_PARALLELISM = 8;

interface S3Error {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}
const statusOf = (err: unknown) => (err as S3Error)?.$metadata?.httpStatusCode;
const isNotFound = (err: unknown) => {
  const name = (err as S3Error)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
};
const isPreconditionFailed = (err: unknown) =>
  (err as S3Error)?.name === 'PreconditionFailed' || statusOf(err) === 412;
/** AWS answers 409 to a conditional write while another one on the same key is in progress. */
const isConditionalConflict = (err: unknown) =>
  (err as S3Error)?.name === 'ConditionalRequestConflict' || statusOf(err) === 409;

const validKey = (key: string): boolean => {
  const steps = key.split('/');
  return key.length <= 1024 && steps.every((s) => s !== '' && s !== '.' && s !== '..' && !/[\\\0]/.test(s));
};

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer | string>)
    chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** Runs `fn` over `items` with at most `limit` at once; results in the order of `items`. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return out;
}

export interface S3StoreOptions {
  /** `s3://bucket[/prefix]` (STORAGE_URL). */
  url: string;
  /** An S3-compatible server (AWS_ENDPOINT_URL): then addressed path-style, http://host/bucket/key. */
  endpoint?: string;
  /** AWS_REGION; with an endpoint and no region, `us-east-1` (local servers ignore it). */
  region?: string;
  /** Credentials; default: the AWS SDK's default chain (environment, profile, instance role…). */
  credentials?: S3ClientConfig['credentials'];
  /** Keys per ListObjectsV2 page and per DeleteObjects request (S3's maximum, 1000; less in tests). */
  pageSize?: number;
}

/** ObjectStore on S3 (or an S3-compatible server): every key lives under `<prefix>/` in one bucket. */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  /** '' or `<prefix>/`. */
  private readonly root: string;
  readonly client: S3Client;
  readonly endpoint: string | undefined;
  private readonly pageSize: number;

  constructor(opts: S3StoreOptions) {
    const loc = parseS3Url(opts.url);
    if (!loc) throw new Error(`invalid S3 storage URL: ${opts.url} (expected s3://bucket/prefix)`);
    this.bucket = loc.bucket;
    this.root = loc.prefix ? `${loc.prefix}/` : '';
    this.endpoint = opts.endpoint;
    this.pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? 1000));
    this.client = new S3Client({
      region: opts.region ?? (opts.endpoint ? 'us-east-1' : undefined),
      ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // A server that does not answer fails fast; a slow reader of a stream is never cut off.
      // Sockets: every chunk's journal PUTs, finalize's writers and the API's downloads at once.
      requestHandler: {
        connectionTimeout: 5_000,
        httpAgent: { keepAlive: true, maxSockets: 256 },
        httpsAgent: { keepAlive: true, maxSockets: 256 },
      },
    });
  }

  private full(key: string): string {
    if (!validKey(key)) throw new Error(`invalid storage key: ${key}`);
    return this.root + key;
  }

  /** A prefix as the filesystem store reads it: a directory, so `a/b` never matches `a/bc`. */
  private fullPrefix(prefix: string): string {
    const p = prefix.replace(/\/+$/, '');
    if (p === '') return this.root;
    return `${this.full(p)}/`;
  }

  /** Fails with one line when the bucket does not exist or does not answer (checked at start). */
  async checkBucket(): Promise<void> {
    const where = `s3://${this.bucket}/${this.root}${this.endpoint ? ` at ${this.endpoint}` : ''}`;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = statusOf(err);
      const why =
        status === 404
          ? `bucket '${this.bucket}' does not exist (create it first: the gateway never creates buckets)`
          : status === 403 || status === 401
            ? `access to bucket '${this.bucket}' is denied (check the AWS credentials)`
            : status === 301
              ? `bucket '${this.bucket}' is in another region (set AWS_REGION to it)`
              : `the S3 endpoint does not answer (${(err as Error).name}: ${(err as Error).message})`;
      throw new StorageUnavailableError(`storage ${where}: ${why}`);
    }
  }

  async put(key: string, data: string | Buffer): Promise<void> {
    // An empty string reads to the SDK as a body of unknown length: send bytes.
    const body = typeof data === 'string' ? Buffer.from(data) : data;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.full(key), Body: body }));
  }

  private upload(key: string, body: Readable): Upload {
    return new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.full(key), Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
      leavePartsOnError: false,
    });
  }

  async putStream(
    key: string,
    source: Readable,
    opts: { maxBytes?: number } = {},
  ): Promise<{ bytes: number }> {
    const limit = opts.maxBytes ?? Infinity;
    let bytes = 0;
    let tooLarge = false;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > limit) {
          tooLarge = true;
          cb(new TooLargeError(limit));
        } else cb(null, chunk);
      },
    });
    const upload = this.upload(key, counter);
    // Multipart: parts of PART_SIZE are sent as they fill; the object appears only once the upload
    // completes. Past maxBytes the counter fails, the upload is aborted and nothing is left.
    // An upload S3 refused stops reading: the pipeline must fail too, not wait on backpressure.
    const sending = upload.done().catch((err: unknown) => {
      counter.destroy(err as Error);
      throw err;
    });
    const [sent, piped] = await Promise.allSettled([sending, pipeline(source, counter)]);
    if (sent.status === 'fulfilled' && piped.status === 'fulfilled') return { bytes };
    await this.abandon(upload, key);
    if (tooLarge) throw new TooLargeError(limit);
    throw (sent.status === 'rejected' ? sent.reason : (piped as PromiseRejectedResult).reason) as Error;
  }

  /**
   * After a failed or aborted upload: lib-storage aborts its multipart upload itself before done()
   * rejects (unless aborted through it), and this makes sure, so no parts are left to pay for.
   */
  private async abandon(upload: Upload, key: string): Promise<void> {
    if (!upload.uploadId) return;
    await this.client
      .send(
        new AbortMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.full(key),
          UploadId: upload.uploadId,
        }),
      )
      .catch(() => undefined);
  }

  async createWriter(key: string): Promise<ObjectWriter> {
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    const upload = this.upload(key, body);
    const abandon = () => this.abandon(upload, key);
    let failure: unknown = null;
    const done = upload.done();
    done.catch((err: unknown) => {
      failure ??= err;
      // A writer blocked on backpressure must not wait for a 'drain' that never comes.
      body.emit('drain');
    });
    let bytes = 0;
    return {
      async write(chunk) {
        if (failure) throw failure as Error;
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buf.length;
        if (!body.write(buf)) await new Promise((r) => body.once('drain', r));
        if (failure) throw failure as Error;
      },
      async commit() {
        body.end();
        await done;
        return { bytes };
      },
      async abort() {
        failure ??= new Error('writer aborted');
        // The upload fails on the destroyed body (never completing the object) and aborts itself.
        body.destroy(failure as Error);
        await done.catch(() => undefined);
        await abandon();
      },
    };
  }

  // ---- journals -------------------------------------------------------------------------------

  /** The parts of a journal after part `after`, in seq order, with their sizes. */
  private async listParts(key: string, after = 0): Promise<{ seq: number; key: string; size: number }[]> {
    const base = `${this.full(key)}${PARTS}`;
    const parts: { seq: number; key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: base,
          StartAfter: after > 0 ? base + seqName(after) : undefined,
          ContinuationToken: token,
          MaxKeys: this.pageSize,
        }),
      );
      for (const o of page.Contents ?? []) {
        const name = o.Key!.slice(base.length);
        if (/^\d{10}$/.test(name)) parts.push({ seq: Number(name), key: o.Key!, size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return parts.sort((a, b) => a.seq - b.seq);
  }

  private async getFull(fullKey: string): Promise<Buffer | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      return await readAll(res.Body);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Bytes of parts, in order (a part is never deleted while its journal exists). */
  private async readParts(parts: { key: string }[]): Promise<Buffer[]> {
    return mapLimited(parts, READ_PARALLELISM, async (p) => (await this.getFull(p.key)) ?? Buffer.alloc(0));
  }

  async openAppender(key: string): Promise<ObjectAppender> {
    const parts = await this.listParts(key);
    let next = (parts.at(-1)?.seq ?? 0) + 1;
    const writer = randomBytes(8).toString('hex');
    let flushes = 0;
    /** What this appender wrote, by seq: its compaction reads only other appenders' parts. */
    const written = new Map<number, Buffer>();

    /** One PUT of a new part; each resolved append is then durable in S3. */
    const putPart = async (data: Buffer) => {
      const tag = `${writer}.${flushes++}`;
      for (;;) {
        const partKey = `${this.full(key)}${PARTS}${seqName(next)}`;
        try {
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: partKey,
              Body: data,
              IfNoneMatch: '*',
              Metadata: { [META_WRITER]: tag },
            }),
          );
          written.set(next++, data);
          return;
        } catch (err) {
          if (isConditionalConflict(err)) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          if (!isPreconditionFailed(err)) throw err;
          // Taken: by our own PUT whose answer was lost (the SDK retried it), or by another appender
          // (or a compaction filling a hole) — then go past every part there is.
          const head = await this.client
            .send(new HeadObjectCommand({ Bucket: this.bucket, Key: partKey }))
            .catch(() => null);
          if (head?.Metadata?.[META_WRITER] === tag) {
            written.set(next++, data);
            return;
          }
          next = Math.max(next + 1, ((await this.listParts(key)).at(-1)?.seq ?? 0) + 1);
        }
      }
    };

    // As in the filesystem store, lines appended while a PUT is under way go out together in the
    // next one: under load one PUT carries many results. Each append resolves once its PUT has.
    let pending: string[] = [];
    let waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
    let writing: Promise<void> | null = null;
    const drain = async () => {
      while (pending.length > 0) {
        const data = Buffer.from(pending.join(''));
        const done = waiters;
        pending = [];
        waiters = [];
        try {
          await putPart(data);
          for (const w of done) w.resolve();
        } catch (err) {
          for (const w of done) w.reject(err);
        }
      }
      writing = null;
    };
    return {
      append: (line) =>
        new Promise<void>((resolve, reject) => {
          pending.push(line);
          waiters.push({ resolve, reject });
          writing ??= drain();
        }),
      close: async () => {
        while (writing) await writing;
        // Best effort: a journal reads the same without it, only with more requests.
        if (written.size > 0) await this.compact(key, written).catch(() => undefined);
        written.clear();
      },
    };
  }

  /**
   * Writes the journal's bytes so far into the key itself (a compaction), so a reader makes one GET
   * instead of one per flush. A hole in the seqs (an appender that died between taking a seq and
   * its PUT, or one still in flight) is filled with an empty part first — create-only, so a late
   * PUT of that seq fails and its appender goes past — making parts 1..N final.
   */
  private async compact(key: string, known: ReadonlyMap<number, Buffer>): Promise<void> {
    const fullKey = this.full(key);
    let base: { data: Buffer; upTo: number; etag: string } | null = null;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      const upTo = Number(res.Metadata?.[META_COMPACTED]);
      if (!Number.isInteger(upTo)) return; // an object put over the journal: not ours to rewrite
      base = { data: await readAll(res.Body), upTo, etag: res.ETag! };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const from = base?.upTo ?? 0;
    let parts = await this.listParts(key, from);
    if (parts.length === 0) return;
    const last = parts.at(-1)!.seq;
    const present = new Set(parts.map((p) => p.seq));
    let filled = false;
    for (let seq = from + 1; seq < last; seq++) {
      if (present.has(seq)) continue;
      filled = true;
      await this.client
        .send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: `${fullKey}${PARTS}${seqName(seq)}`,
            Body: Buffer.alloc(0),
            IfNoneMatch: '*',
            Metadata: { [META_WRITER]: 'hole' },
          }),
        )
        .catch((err: unknown) => {
          if (!isPreconditionFailed(err)) throw err;
        });
    }
    if (filled) parts = (await this.listParts(key, from)).filter((p) => p.seq <= last);
    const others = parts.filter((p) => !known.has(p.seq));
    const read = new Map((await this.readParts(others)).map((b, i) => [others[i].seq, b]));
    const data = Buffer.concat([
      base?.data ?? Buffer.alloc(0),
      ...parts.map((p) => known.get(p.seq) ?? read.get(p.seq)!),
    ]);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: fullKey,
          Body: data,
          Metadata: { [META_COMPACTED]: String(last) },
          // Never replace a newer compaction by an older one.
          ...(base ? { IfMatch: base.etag } : { IfNoneMatch: '*' }),
        }),
      );
    } catch (err) {
      if (!isPreconditionFailed(err) && !isConditionalConflict(err)) throw err;
    }
  }

  // ---- reads ----------------------------------------------------------------------------------

  async get(key: string): Promise<Buffer | null> {
    const fullKey = this.full(key);
    let head: Buffer;
    let upTo: number;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      head = await readAll(res.Body);
      upTo = Number(res.Metadata?.[META_COMPACTED]);
      if (!Number.isInteger(upTo)) return head;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const parts = await this.listParts(key);
      return parts.length === 0 ? null : Buffer.concat(await this.readParts(parts));
    }
    const later = await this.listParts(key, upTo);
    return later.length === 0 ? head : Buffer.concat([head, ...(await this.readParts(later))]);
  }

  async getStream(key: string): Promise<Readable | null> {
    const fullKey = this.full(key);
    let first: Readable | null = null;
    let parts: { key: string }[];
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      const upTo = Number(res.Metadata?.[META_COMPACTED]);
      if (!Number.isInteger(upTo)) return res.Body as Readable;
      first = res.Body as Readable;
      parts = await this.listParts(key, upTo).catch((err: unknown) => {
        first?.destroy();
        throw err;
      });
      if (parts.length === 0) return first;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      parts = await this.listParts(key);
      if (parts.length === 0) return null;
    }
    const open = (k: string) => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
    async function* concat() {
      if (first) yield* first;
      for (const p of parts) {
        const res = await open(p.key);
        yield* res.Body as Readable;
      }
    }
    return Readable.from(concat(), { objectMode: false });
  }

  async size(key: string): Promise<number | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key) }));
      const upTo = Number(res.Metadata?.[META_COMPACTED]);
      if (!Number.isInteger(upTo)) return res.ContentLength ?? 0;
      const later = await this.listParts(key, upTo);
      return later.reduce((n, p) => n + p.size, res.ContentLength ?? 0);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const parts = await this.listParts(key);
      return parts.length === 0 ? null : parts.reduce((n, p) => n + p.size, 0);
    }
  }

  // ---- listing and deletion --------------------------------------------------------------------

  /** Every object key (full, with the root) under a full prefix. */
  private async *listFull(prefix: string): AsyncGenerator<string[]> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ContinuationToken: token,
          MaxKeys: this.pageSize,
        }),
      );
      yield (page.Contents ?? []).map((o) => o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += this.pageSize) {
      const batch = keys.slice(i, i + this.pageSize);
      const res = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new Error(
          `S3 DeleteObjects refused ${failed.length} keys, e.g. ${failed[0].Key}: ${failed[0].Code} ${failed[0].Message ?? ''}`,
        );
    }
  }

  private async deleteUnder(fullPrefix: string, also: string[] = []): Promise<void> {
    let keys = also;
    for await (const page of this.listFull(fullPrefix)) {
      keys = keys.concat(page);
      if (keys.length >= this.pageSize) {
        await this.deleteKeys(keys.slice(0, this.pageSize));
        keys = keys.slice(this.pageSize);
      }
    }
    if (keys.length > 0) await this.deleteKeys(keys);
  }

  async delete(key: string): Promise<void> {
    const fullKey = this.full(key);
    await this.deleteUnder(`${fullKey}${PARTS}`, [fullKey]);
  }

  async deletePrefix(prefix: string): Promise<void> {
    await this.deleteUnder(this.fullPrefix(prefix));
  }

  async list(prefix: string): Promise<string[]> {
    const keys = new Set<string>();
    for await (const page of this.listFull(this.fullPrefix(prefix))) {
      for (const full of page) {
        const key = full.slice(this.root.length);
        // A journal's parts list as the journal.
        keys.add(PART_KEY.exec(key)?.[1] ?? key);
      }
    }
    return [...keys];
  }

  /**
   * S3 leaves no temporaries behind: an upload that never completed is no object (its parts are
   * dropped by the bucket's AbortIncompleteMultipartUpload lifecycle rule), and a journal's parts
   * are the journal.
   */
  listStaleTemporaries(): Promise<{ key: string; bytes: number }[]> {
    return Promise.resolve([]);
  }

  referenceOf(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }

  /**
   * `s3://<bucket>/<prefix>/<key>` → key; also a plain key relative to the prefix (as the filesystem
   * store's references are). Null for another bucket or prefix, or a `.`/`..` step.
   */
  keyOf(reference: string): string | null {
    let key = reference;
    if (reference.startsWith('s3://')) {
      const mine = `s3://${this.bucket}/${this.root}`;
      if (!reference.startsWith(mine)) return null;
      key = reference.slice(mine.length);
    } else if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) return null;
    return validKey(key) ? key : null;
  }
}

/**
 * Storage that cannot be used at all (a missing bucket, an endpoint that does not answer): a
 * ConfigError, so the entry points print its one line and exit 2.
 */
export class StorageUnavailableError extends ConfigError {
  override name = 'StorageUnavailableError';
}
