// The filesystem store's durability: a journal line counts (append resolves) only once an
// fdatasync covering it has returned, concurrent appends share fdatasyncs (group commit), objects
// are flushed before their rename and their directory after it, and `sync: false` (tests and benchmarks only) skips all that.
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { FsObjectStore } from '../../src/storage/fs-store';

let root: string;
let FileHandle: { datasync(): Promise<void>; sync(): Promise<void>; stat(): Promise<{ size: number }> };
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'batchgw-fsync-'));
  const probe = await open(join(root, 'probe'), 'w');
  FileHandle = Object.getPrototypeOf(probe) as typeof FileHandle;
  await probe.close();
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Counts fdatasync and fsync calls; `synced` is the file size each fdatasync saw. */
function spySyncs() {
  const synced: number[] = [];
  const datasync = Reflect.get<typeof FileHandle, 'datasync'>(FileHandle, 'datasync');
  const data = vi.spyOn(FileHandle, 'datasync').mockImplementation(async function (this: typeof FileHandle) {
    await datasync.call(this);
    synced.push((await this.stat()).size);
  });
  const full = vi.spyOn(FileHandle, 'sync');
  return { synced, datasyncs: () => data.mock.calls.length, fsyncs: () => full.mock.calls.length };
}

describe('FsObjectStore durability', () => {
  it('an append resolves only after an fdatasync covering its line; concurrent appends share them', async () => {
    const store = new FsObjectStore(join(root, 'a'));
    const spy = spySyncs();
    const journal = await store.openAppender('t/batches/b/parts/0/0.journal');
    const line = (i: number) => `{"i":${String(i).padStart(4, '0')}}\n`;
    const L = line(0).length;
    // For each append as it resolves: the end of its line, and how far the last flush reached.
    const resolved: { end: number; flushed: number }[] = [];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        journal
          .append(line(i))
          .then(() => resolved.push({ end: (i + 1) * L, flushed: spy.synced.at(-1) ?? 0 })),
      ),
    );
    await journal.close();
    expect(resolved).toHaveLength(300);
    for (const r of resolved) expect(r.flushed).toBeGreaterThanOrEqual(r.end);
    expect(spy.synced.length).toBeGreaterThan(0);
    expect(spy.synced.length).toBeLessThan(300); // grouped: one flush carries many lines
    expect(Math.max(...spy.synced)).toBe(300 * L);
    const text = await readFile(join(root, 'a/t/batches/b/parts/0/0.journal'), 'utf8');
    expect(text.split('\n').filter(Boolean)).toHaveLength(300);

    // One line at a time: one flush per line, each before the append resolves.
    const single = await store.openAppender('t/batches/b/parts/0/1.journal');
    for (let i = 0; i < 5; i++) {
      const before = spy.datasyncs();
      await single.append(line(i));
      expect(spy.datasyncs()).toBe(before + 1);
      expect(spy.synced.at(-1)).toBe((i + 1) * L);
    }
    await single.close();
  });

  it('put, putStream and writers flush the object before the rename and the directory after it', async () => {
    const store = new FsObjectStore(join(root, 'b'));
    await store.put('t/x/seed', 'dirs exist now');
    const spy = spySyncs();
    await store.put('t/x/done.json', '{"completed":1}');
    expect(spy.datasyncs()).toBe(1);
    expect(spy.fsyncs()).toBe(1); // the directory, after the rename
    await store.putStream('t/x/upload', Readable.from([Buffer.from('a'), Buffer.from('b')]));
    expect(spy.datasyncs()).toBe(2);
    expect(spy.fsyncs()).toBe(2);
    const w = await store.createWriter('t/x/output');
    await w.write('line\n');
    await w.commit();
    expect(spy.datasyncs()).toBe(3);
    expect(spy.fsyncs()).toBe(3);
    expect((await store.get('t/x/output'))?.toString()).toBe('line\n');

    // New directories: each created one and the parent of the first are flushed too.
    await store.put('t/new/deep/er/obj', 'x');
    expect(spy.fsyncs() - 3).toBe(1 /* t */ + 3 /* new, deep, er */ + 1 /* er after the rename */);
  });

  it('sync: false: no flushes at all', async () => {
    const store = new FsObjectStore(join(root, 'c'), { sync: false });
    const spy = spySyncs();
    await store.put('t/y/obj', 'x');
    const j = await store.openAppender('t/y/j.journal');
    await Promise.all([j.append('1\n'), j.append('2\n')]);
    await j.close();
    expect(spy.datasyncs() + spy.fsyncs()).toBe(0);
    expect((await store.get('t/y/j.journal'))?.toString()).toBe('1\n2\n');
  });

  it('lists temporary files older than asked, never as objects', async () => {
    const store = new FsObjectStore(join(root, 'd'));
    await store.put('t/files/f', 'x');
    const old = join(root, 'd/t/files/f.json.tmp-0123456789ab');
    writeFileSync(old, 'partial');
    utimesSync(old, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    writeFileSync(join(root, 'd/t/files/g.tmp-abcdefabcdef'), 'in progress');
    expect(await store.list('t/')).toEqual(['t/files/f']);
    expect(await store.listStaleTemporaries(3600_000)).toEqual([
      { key: 't/files/f.json.tmp-0123456789ab', bytes: 7 },
    ]);
    await store.delete('t/files/f.json.tmp-0123456789ab');
    expect(await store.listStaleTemporaries(3600_000)).toEqual([]);
  });
});
