// `npx tsx bench/fs-store.ts [DIR]`: the filesystem store's write paths with and without fsync —
// journal appends as chunks make them (one at a time; 100 in flight on one journal; 10 in flight on
// each of 20 journals) and small puts (done-markers), one JSON line per case. DIR (default .data)
// should be on the disk under test.
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FsObjectStore } from '../src/storage/fs-store';

const LINE = JSON.stringify({ custom_id: 'r', response: { status: 200, body: 'x'.repeat(500) } }) + '\n';

async function appends(store: FsObjectStore, journals: number, perJournal: number, inFlight: number) {
  const t = performance.now();
  await Promise.all(
    Array.from({ length: journals }, async (_, j) => {
      const journal = await store.openAppender(`t/batches/b/parts/${journals}-${inFlight}/${j}.journal`);
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < perJournal) {
            next++;
            await journal.append(LINE);
          }
        }),
      );
      await journal.close();
    }),
  );
  const ms = performance.now() - t;
  return {
    case: `append ${journals}x${inFlight}`,
    ops: journals * perJournal,
    perSec: Math.round((journals * perJournal * 1000) / ms),
  };
}

async function puts(store: FsObjectStore, n: number, parallel: number) {
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n)
        await store.put(`t/batches/b/parts/p${parallel}/${next++}.done.json`, '{"completed":100}');
    }),
  );
  const ms = performance.now() - t;
  return { case: `put x${parallel}`, ops: n, perSec: Math.round((n * 1000) / ms) };
}

async function main() {
  const base = resolve(process.argv[2] ?? '.data');
  for (const sync of [true, false]) {
    const dir = mkdtempSync(join(base, 'bench-fs-'));
    const store = new FsObjectStore(dir, { sync });
    for (const run of [
      () => appends(store, 1, 2000, 1),
      () => appends(store, 1, 4000, 100),
      () => appends(store, 20, 500, 10),
      () => puts(store, 1000, 1),
      () => puts(store, 1000, 20),
    ])
      console.log(JSON.stringify({ sync, ...(await run()) }));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
