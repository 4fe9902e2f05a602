// The ObjectStore contract (src/storage/object-store.ts), the same cases on every backend: the
// filesystem store, and the S3 store against a real S3-compatible server (versitygw, started once
// for the run by the global setup). Plus what only S3 has: multipart, journals as parts.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { storageFor } from '../src/main/services';
import { FsObjectStore } from '../src/storage/fs-store';
import { TooLargeError, type ObjectStore } from '../src/storage/object-store';
import { S3ObjectStore } from '../src/storage/s3-store';
import { s3Server, s3Store } from './harness/s3-server';

const MiB = 1024 * 1024;

/** A stream of `bytes` pseudo-random bytes in 64 KiB chunks, and their sha256. */
function bigStream(bytes: number, seed = 'x'): { stream: Readable; sha: string } {
  const chunk = 64 * 1024;
  const hash = createHash('sha256');
  const pieces: Buffer[] = [];
  for (let i = 0; i * chunk < bytes; i++) {
    const piece = createHash('sha512').update(`${seed}${i}`).digest().subarray(0, 64);
    const buf = Buffer.alloc(Math.min(chunk, bytes - i * chunk));
    for (let o = 0; o < buf.length; o += 64) piece.copy(buf, o);
    pieces.push(buf);
    hash.update(buf);
  }
  return { stream: Readable.from(pieces), sha: hash.digest('hex') };
}
const sha = (b: Buffer | null) => (b ? createHash('sha256').update(b).digest('hex') : null);
const readStream = async (s: Readable | null) => {
  if (!s) return null;
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

/** On S3: no multipart upload left under the store's prefix (its parts would be paid for). */
async function expectNoUploadLeft(store: ObjectStore): Promise<void> {
  if (!(store instanceof S3ObjectStore)) return;
  const prefix = store
    .referenceOf('x')
    .replace(/^s3:\/\/[^/]+\//, '')
    .replace(/x$/, '');
  const uploads = await store.client.send(
    new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefix }),
  );
  expect(uploads.Uploads ?? []).toEqual([]);
}

interface Backend {
  name: string;
  /** A fresh, empty store (S3: listing and deleting `pageSize` keys per request). */
  fresh(opts?: { pageSize?: number }): ObjectStore;
  /** A second store over the same data as `store` (another process after a crash). */
  reopen(store: ObjectStore): ObjectStore;
}

const fsRoots: string[] = [];
afterAll(() => {
  for (const r of fsRoots) rmSync(r, { recursive: true, force: true });
});
const fsRootOf = new WeakMap<ObjectStore, string>();

const backends: Backend[] = [
  {
    name: 'filesystem',
    fresh() {
      const root = mkdtempSync(join(tmpdir(), 'batchgw-contract-'));
      fsRoots.push(root);
      const store = new FsObjectStore(root);
      fsRootOf.set(store, root);
      return store;
    },
    reopen: (store) => new FsObjectStore(fsRootOf.get(store)!),
  },
  {
    name: 's3 (versitygw)',
    fresh: (opts) => s3Store(undefined, opts?.pageSize),
    reopen: (store) => {
      const s3 = s3Server();
      return new S3ObjectStore({
        url: store.referenceOf('x').replace(/\/x$/, ''),
        endpoint: s3.endpoint,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
    },
  },
];

describe.each(backends)('ObjectStore contract: $name', (backend) => {
  it('put/get round-trips strings and bytes; an overwrite replaces the whole object', async () => {
    const store = backend.fresh();
    await store.put('a/b/c.json', '{"x":1}');
    expect((await store.get('a/b/c.json'))?.toString()).toBe('{"x":1}');
    const bytes = randomBytes(1000);
    await store.put('a/bin', bytes);
    expect((await store.get('a/bin'))?.equals(bytes)).toBe(true);
    await store.put('a/b/c.json', 'y');
    expect((await store.get('a/b/c.json'))?.toString()).toBe('y');
    expect(await store.get('a/missing')).toBeNull();
  });

  it('an overwrite is atomic: a reader sees the old or the new object, never a mix', async () => {
    const store = backend.fresh();
    const old = Buffer.alloc(2 * MiB, 'a');
    const neu = Buffer.alloc(2 * MiB, 'b');
    await store.put('k', old);
    const reads: (Buffer | null)[] = [];
    const reader = (async () => {
      for (let i = 0; i < 8; i++) reads.push(await store.get('k'));
    })();
    for (let i = 0; i < 4; i++) await store.put('k', i % 2 ? old : neu);
    await reader;
    for (const r of reads) expect([sha(old), sha(neu)]).toContain(sha(r));
  });

  it('putStream writes a large object in parts (> 5 MiB) and reads it back, whole and streamed', async () => {
    const store = backend.fresh();
    const { stream, sha: expected } = bigStream(12 * MiB + 12345);
    const { bytes } = await store.putStream('files/big', stream, { maxBytes: 20 * MiB });
    expect(bytes).toBe(12 * MiB + 12345);
    expect(await store.size('files/big')).toBe(bytes);
    expect(sha(await store.get('files/big'))).toBe(expected);
    expect(sha(await readStream(await store.getStream('files/big')))).toBe(expected);
  });

  it('putStream past maxBytes rejects with TooLargeError and leaves nothing (an earlier object stays)', async () => {
    const store = backend.fresh();
    await expect(
      store.putStream('files/too-big', bigStream(7 * MiB).stream, { maxBytes: 6 * MiB }),
    ).rejects.toBeInstanceOf(TooLargeError);
    expect(await store.get('files/too-big')).toBeNull();
    expect(await store.list('files')).toEqual([]);
    await store.put('files/kept', 'old');
    await expect(
      store.putStream('files/kept', bigStream(MiB).stream, { maxBytes: 1000 }),
    ).rejects.toBeInstanceOf(TooLargeError);
    expect((await store.get('files/kept'))?.toString()).toBe('old');
    await expectNoUploadLeft(store);
  });

  it('putStream whose source fails midway (a client gone) rejects with its error and leaves nothing', async () => {
    const store = backend.fresh();
    async function* dies() {
      for (let i = 0; i < 7; i++) yield Buffer.alloc(MiB, i);
      throw new Error('client went away');
    }
    await expect(store.putStream('files/cut', Readable.from(dies()))).rejects.toThrow('client went away');
    expect(await store.get('files/cut')).toBeNull();
    expect(await store.list('files')).toEqual([]);
    await expectNoUploadLeft(store);
  });

  it('createWriter: invisible until commit, then whole; abort leaves nothing', async () => {
    const store = backend.fresh();
    const w = await store.createWriter('out/file');
    const chunk = Buffer.alloc(MiB, 'z');
    for (let i = 0; i < 6; i++) await w.write(chunk);
    await w.write('tail\n');
    expect(await store.get('out/file')).toBeNull();
    expect(await store.list('out')).toEqual([]);
    expect(await w.commit()).toEqual({ bytes: 6 * MiB + 5 });
    const read = await store.get('out/file');
    expect(read?.length).toBe(6 * MiB + 5);
    expect(read?.subarray(-5).toString()).toBe('tail\n');

    const small = await store.createWriter('out/empty');
    expect(await small.commit()).toEqual({ bytes: 0 });
    expect((await store.get('out/empty'))?.length).toBe(0);

    const aborted = await store.createWriter('out/aborted');
    for (let i = 0; i < 6; i++) await aborted.write(chunk);
    await aborted.abort();
    expect(await store.get('out/aborted')).toBeNull();
    expect((await store.list('out')).sort()).toEqual(['out/empty', 'out/file']);
    await expectNoUploadLeft(store);
  });

  it('appender: each append is durable once it resolves (read by another store, never closed), in order', async () => {
    const store = backend.fresh();
    const a = await store.openAppender('parts/0/1.journal');
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) {
      const line = `line ${i}\n`;
      await a.append(line);
      lines.push(line);
      // "Crash" here: another process reads what is stored.
      expect((await backend.reopen(store).get('parts/0/1.journal'))?.toString()).toBe(lines.join(''));
    }
    // Concurrent appends: all kept, each once, each whole.
    const more = Array.from({ length: 40 }, (_, i) => `c${i} ${'x'.repeat(i * 10)}\n`);
    await Promise.all(more.map((l) => a.append(l)));
    const text = (await backend.reopen(store).get('parts/0/1.journal'))!.toString();
    expect(text.startsWith(lines.join(''))).toBe(true);
    expect(text.slice(lines.join('').length).split('\n').filter(Boolean).sort()).toEqual(
      more.map((l) => l.slice(0, -1)).sort(),
    );
    await a.close();
    // Closed (compacted on S3): reads the same, by every read.
    expect((await store.get('parts/0/1.journal'))?.toString()).toBe(text);
    expect((await readStream(await store.getStream('parts/0/1.journal')))?.toString()).toBe(text);
    expect(await store.size('parts/0/1.journal')).toBe(Buffer.byteLength(text));
    expect(await store.list('parts')).toEqual(['parts/0/1.journal']);

    // A later appender (a retried chunk) continues the same journal.
    const b = await store.openAppender('parts/0/1.journal');
    await b.append('after\n');
    expect((await store.get('parts/0/1.journal'))?.toString()).toBe(`${text}after\n`);
    expect(await store.size('parts/0/1.journal')).toBe(Buffer.byteLength(text) + 6);
    await b.close();
    expect((await store.get('parts/0/1.journal'))?.toString()).toBe(`${text}after\n`);
  });

  it('appender: two appenders on one journal at once (a retried chunk beside its zombie) lose nothing', async () => {
    const store = backend.fresh();
    const [x, y] = await Promise.all([store.openAppender('j'), store.openAppender('j')]);
    const xs = Array.from({ length: 20 }, (_, i) => `x${i}\n`);
    const ys = Array.from({ length: 20 }, (_, i) => `y${i}\n`);
    await Promise.all([
      (async () => {
        for (const l of xs) await x.append(l);
      })(),
      (async () => {
        for (const l of ys) await y.append(l);
      })(),
    ]);
    await x.close();
    await y.append('y-late\n');
    await y.close();
    const got = (await store.get('j'))!.toString().split('\n').filter(Boolean);
    expect([...got].sort()).toEqual([...xs, ...ys, 'y-late\n'].map((l) => l.trim()).sort());
    // Each appender's own lines stay in its order.
    expect(got.filter((l) => l.startsWith('x'))).toEqual(xs.map((l) => l.trim()));
    expect(got.filter((l) => l.startsWith('y'))).toEqual([...ys, 'y-late\n'].map((l) => l.trim()));
  });

  it('size: of an object, and null for a missing key', async () => {
    const store = backend.fresh();
    await store.put('s/one', 'hello');
    expect(await store.size('s/one')).toBe(5);
    expect(await store.size('s/none')).toBeNull();
  });

  it('list: every key under a prefix, nested, never a sibling prefix; several pages', async () => {
    const store = backend.fresh({ pageSize: 10 });
    await Promise.all(['a/b/1', 'a/b/c/2', 'a/b/c/d/3', 'a/bc/4', 'z'].map((k) => store.put(k, k)));
    expect((await store.list('a/b/')).sort()).toEqual(['a/b/1', 'a/b/c/2', 'a/b/c/d/3']);
    expect((await store.list('a/b')).sort()).toEqual(['a/b/1', 'a/b/c/2', 'a/b/c/d/3']);
    expect((await store.list('a/')).sort()).toEqual(['a/b/1', 'a/b/c/2', 'a/b/c/d/3', 'a/bc/4']);
    expect(await store.list('nothing/')).toEqual([]);
    // Pages of 10 keys here (1000 in production): 35 keys take four ListObjectsV2 pages and four
    // DeleteObjects requests; a journal's 12 parts list as one key.
    const many = Array.from({ length: 35 }, (_, i) => `m/${String(i).padStart(4, '0')}`);
    await Promise.all(many.map((k) => store.put(k, '')));
    const j = await store.openAppender('m/z.journal');
    for (let i = 0; i < 12; i++) await j.append(`${i}\n`);
    expect((await store.list('m/')).sort()).toEqual([...many, 'm/z.journal']);
    expect(await store.size('m/z.journal')).toBe(12 * 2 + 2);
    await j.close();
    expect((await store.get('m/z.journal'))?.toString()).toBe(
      Array.from({ length: 12 }, (_, i) => `${i}\n`).join(''),
    );
    await store.deletePrefix('m/');
    expect(await store.list('m/')).toEqual([]);
  });

  it('delete: an object, a journal with all its parts, and a missing key quietly', async () => {
    const store = backend.fresh();
    await store.put('d/x', 'x');
    const a = await store.openAppender('d/j');
    await a.append('1\n');
    await a.append('2\n');
    await store.delete('d/x');
    await store.delete('d/j');
    await store.delete('d/never');
    await a.close(); // closed after the delete: no compaction brings it back
    expect(await store.get('d/x')).toBeNull();
    expect(await store.get('d/j')).toBeNull();
    expect(await store.size('d/j')).toBeNull();
    expect(await store.list('d/')).toEqual([]);
  });

  it('deletePrefix: everything under it, nothing beside it', async () => {
    const store = backend.fresh();
    await Promise.all(['p/q/1', 'p/q/r/2', 'p/qr/3', 'p/4'].map((k) => store.put(k, k)));
    const a = await store.openAppender('p/q/j');
    await a.append('line\n');
    await a.close();
    await store.deletePrefix('p/q/');
    expect((await store.list('p/')).sort()).toEqual(['p/4', 'p/qr/3']);
    await store.deletePrefix('p/none/');
  });

  it('getStream/get of a missing key or of a "directory" is null', async () => {
    const store = backend.fresh();
    await store.put('dir/inside', 'x');
    expect(await store.getStream('nothing')).toBeNull();
    expect(await store.getStream('dir')).toBeNull();
    expect(await store.get('dir')).toBeNull();
  });

  it('referenceOf/keyOf round-trip; foreign references and traversal are refused', async () => {
    const store = backend.fresh();
    for (const key of ['a', 'imports/2026-12-01/enrich.jsonl', 'x/y.z']) {
      expect(store.keyOf(store.referenceOf(key))).toBe(key);
    }
    // A path relative to the storage root names the same key on every backend.
    expect(store.keyOf('imports/x.jsonl')).toBe('imports/x.jsonl');
    for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', 'a//b', 'a\\b', 'a/']) {
      expect(store.keyOf(bad)).toBeNull();
    }
    if (store instanceof S3ObjectStore) {
      const mine = store.referenceOf('k');
      expect(mine).toMatch(/^s3:\/\/batchgw-test\/t-[0-9a-f]+\/k$/);
      expect(store.keyOf(mine.replace('batchgw-test', 'other-bucket'))).toBeNull();
      expect(store.keyOf(mine.replace(/\/t-[0-9a-f]+\//, '/t-other/'))).toBeNull();
      expect(store.keyOf(mine.replace(/\/k$/, '/../k'))).toBeNull();
      expect(store.keyOf('https://example.com/k')).toBeNull();
    }
  });
});

describe('S3 specifics (versitygw)', () => {
  const raw = (store: S3ObjectStore) => store.client;
  const prefixOf = (store: S3ObjectStore) =>
    store
      .referenceOf('x')
      .replace(/^s3:\/\/[^/]+\//, '')
      .replace(/x$/, '');
  const keysUnder = async (store: S3ObjectStore, under: string) => {
    const page = await raw(store).send(
      new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefixOf(store) + under }),
    );
    return (page.Contents ?? []).map((o) => o.Key!.slice(prefixOf(store).length));
  };

  it('putStream and createWriter upload multipart (never the whole file in memory) and leave no upload behind', async () => {
    const store = s3Store();
    await store.putStream('big', bigStream(11 * MiB).stream);
    const head = await raw(store).send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: `${prefixOf(store)}big` }),
    );
    expect(head.ETag).toMatch(/-3"$/); // 5 + 5 + 1 MiB
    await expect(
      store.putStream('refused', bigStream(12 * MiB).stream, { maxBytes: 11 * MiB }),
    ).rejects.toBeInstanceOf(TooLargeError);
    const w = await store.createWriter('aborted');
    for (let i = 0; i < 6; i++) await w.write(Buffer.alloc(MiB));
    await w.abort();
    const uploads = await raw(store).send(
      new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: prefixOf(store) }),
    );
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it('a journal is one object per flush, concurrent appends share a PUT, and close compacts it into the key', async () => {
    const store = s3Store();
    const a = await store.openAppender('j');
    await a.append('first\n');
    await Promise.all(Array.from({ length: 50 }, (_, i) => a.append(`n${i}\n`)));
    const parts = await keysUnder(store, 'j.parts/');
    // The first PUT carries 'first'; the 50 concurrent appends go out in at most a few more.
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(parts.length).toBeLessThanOrEqual(4);
    expect(parts[0]).toBe('j.parts/0000000001');
    expect(await keysUnder(store, 'j')).not.toContain('j');
    await a.close();
    const head = await raw(store).send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: `${prefixOf(store)}j` }),
    );
    expect(head.Metadata?.['journal-parts']).toBe(String(parts.length));
  });

  it('an appender whose seq was taken (a zombie) goes past it; a hole is filled before compaction', async () => {
    const store = s3Store();
    const zombie = await store.openAppender('j'); // will try seq 1
    const live = await store.openAppender('j'); // also seq 1
    await live.append('live-1\n');
    await live.append('live-2\n');
    await live.close(); // compacted up to 2
    await zombie.append('zombie\n'); // seq 1 is taken: it lands after the compaction
    expect((await store.get('j'))?.toString()).toBe('live-1\nlive-2\nzombie\n');
    // A hole: seq 5 written, 4 never (an appender died between taking it and its PUT).
    await raw(store).send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: `${prefixOf(store)}j.parts/0000000005`,
        Body: 'five\n',
      }),
    );
    expect((await store.get('j'))?.toString()).toBe('live-1\nlive-2\nzombie\nfive\n');
    const c = await store.openAppender('j');
    await c.append('six\n');
    await c.close();
    expect((await store.get('j'))?.toString()).toBe('live-1\nlive-2\nzombie\nfive\nsix\n');
    const head = await raw(store).send(
      new HeadObjectCommand({ Bucket: store.bucket, Key: `${prefixOf(store)}j` }),
    );
    expect(head.Metadata?.['journal-parts']).toBe('6');
  });

  it('an upload S3 refuses (no such bucket) rejects at once instead of waiting on its source', async () => {
    const s3 = s3Server();
    const store = new S3ObjectStore({
      url: 's3://no-such-bucket-here/p',
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await expect(store.putStream('big', bigStream(12 * MiB).stream)).rejects.toThrow(/bucket/i);
    const w = await store.createWriter('out');
    await expect(
      (async () => {
        for (let i = 0; i < 12; i++) await w.write(Buffer.alloc(MiB));
        await w.commit();
      })(),
    ).rejects.toThrow(/bucket/i);
    await expect(store.put('small', 'x')).rejects.toThrow(/bucket/i);
  });

  it('checkBucket: a missing bucket fails with one line naming it', async () => {
    const s3 = s3Server();
    const store = new S3ObjectStore({
      url: 's3://no-such-bucket-here/p',
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await expect(store.checkBucket()).rejects.toThrow(
      /^storage s3:\/\/no-such-bucket-here\/p\/ at http:\/\/127\.0\.0\.1:\d+: bucket 'no-such-bucket-here' does not exist/,
    );
    await s3Store().checkBucket();
    const down = new S3ObjectStore({
      url: 's3://any-bucket',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
    });
    await expect(down.checkBucket()).rejects.toThrow(/does not answer/);
  });
});

describe('choosing the store (STORAGE_URL)', () => {
  it('picks S3 for s3://bucket/prefix, the filesystem without it, and refuses a bad URL in one line', () => {
    const s3 = storageFor(loadConfig({ STORAGE_URL: 's3://team-bucket/gw/prod/', AWS_REGION: 'eu-west-1' }));
    expect(s3).toBeInstanceOf(S3ObjectStore);
    expect(s3.referenceOf('a/b')).toBe('s3://team-bucket/gw/prod/a/b');
    expect(storageFor(loadConfig({ STORAGE_URL: 's3://team-bucket' })).referenceOf('a')).toBe(
      's3://team-bucket/a',
    );
    expect(storageFor(loadConfig({}))).toBeInstanceOf(FsObjectStore);
    for (const bad of ['s3://Bad_Bucket/x', 'https://bucket/x', 's3://bucket/../x', 's3://'])
      expect(() => loadConfig({ STORAGE_URL: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ STORAGE_URL: 's3://b' })).toThrow(/STORAGE_URL: must be s3:\/\/bucket/);
  });
});
