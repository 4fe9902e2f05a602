// The worker census: live pollers counted and ranked, the warm-up of a joining worker, a failing census.
import { describe, expect, it } from 'vitest';
import type { WorkerShare } from '../../src/gateway/cluster-share';
import { tally, WorkerCensus, type PollerSighting } from '../../src/temporal/worker-census';

const R = 2000;
const STALE = 70_000;

describe('tally', () => {
  it('counts distinct live identities with this worker, ranked by sorted identity', () => {
    const now = 1_000_000;
    const pollers: PollerSighting[] = [
      { identity: 'b', lastAccessMs: now - 1000 },
      { identity: 'b', lastAccessMs: now - 50_000 }, // the same worker on the other queue type
      { identity: 'c', lastAccessMs: now - 69_000 }, // idle: its long poll has not expired yet
      { identity: 'a', lastAccessMs: now - 71_000 }, // gone: silent for longer than the bound
      { identity: '', lastAccessMs: now },
    ];
    expect(tally('m', pollers, now, STALE)).toEqual({ workers: 3, rank: 2, seenSelf: false });
    expect(tally('b', pollers, now, STALE)).toEqual({ workers: 2, rank: 0, seenSelf: true });
  });

  it('counts this worker even when the server does not list it (yet), or lists it as stale', () => {
    expect(tally('x', [], 0, STALE)).toEqual({ workers: 1, rank: 0, seenSelf: false });
    expect(tally('x', [{ identity: 'x', lastAccessMs: -1e9 }], 0, STALE)).toEqual({
      workers: 1,
      rank: 0,
      seenSelf: true,
    });
  });
});

/** A census over a fake server and clock; `pollers` is what the server lists now. */
function census(identity: string) {
  let now = 0;
  let pollers: PollerSighting[] = [];
  let fail: Error | null = null;
  const applied: WorkerShare[] = [];
  const warnings: string[] = [];
  const c = new WorkerCensus({
    identity,
    describe: () => (fail ? Promise.reject(fail) : Promise.resolve(pollers)),
    intervalMs: R,
    staleMs: STALE,
    apply: (s) => applied.push(s),
    log: { info: () => undefined, warn: (m) => warnings.push(m) },
    now: () => now,
  });
  return {
    c,
    applied,
    warnings,
    last: () => applied[applied.length - 1],
    at(t: number, ids: string[], failWith: Error | null = null) {
      now = t;
      fail = failWith;
      pollers = ids.map((id) => ({ identity: id, lastAccessMs: t - 10 }));
      return c.census();
    },
  };
}

describe('WorkerCensus', () => {
  it('a worker joining others warms up until 2 intervals after its own poller is listed', async () => {
    const w = census('b');
    await w.at(0, ['a', 'c']); // not listed yet: it may not have polled
    expect(w.last()).toEqual({ workers: 3, rank: 1, warmingUp: true });
    await w.at(100, ['a', 'b', 'c']); // listed: the others will see it within one interval
    expect(w.last().warmingUp).toBe(true);
    await w.at(100 + 2 * R - 1, ['a', 'b', 'c']);
    expect(w.last().warmingUp).toBe(true);
    await w.at(100 + 2 * R, ['a', 'b', 'c']);
    expect(w.last()).toEqual({ workers: 3, rank: 1, warmingUp: false });
  });

  it('a worker alone at its first sighting takes its whole share at once, and shrinks when one joins', async () => {
    const w = census('a');
    await w.at(0, []);
    expect(w.last().warmingUp).toBe(true);
    await w.at(200, ['a']);
    expect(w.last()).toEqual({ workers: 1, rank: 0, warmingUp: false });
    await w.at(2200, ['a', 'b']);
    expect(w.last()).toEqual({ workers: 2, rank: 0, warmingUp: false });
  });

  it('grows back once a dead worker has been silent for the bound', async () => {
    // 'a' died at 5000: the server keeps listing it, with its last poll time.
    let now = 0;
    const shares: WorkerShare[] = [];
    const c = new WorkerCensus({
      identity: 'b',
      describe: () =>
        Promise.resolve([
          { identity: 'a', lastAccessMs: Math.min(now, 5000) },
          { identity: 'b', lastAccessMs: now },
        ]),
      intervalMs: R,
      staleMs: STALE,
      apply: (share) => shares.push(share),
      log: { info: () => undefined, warn: () => undefined },
      now: () => now,
    });
    await c.census();
    now = 5000 + STALE;
    await c.census();
    expect(shares.at(-1)).toEqual({ workers: 2, rank: 1, warmingUp: false });
    now = 5000 + STALE + 1;
    await c.census();
    expect(shares.at(-1)).toEqual({ workers: 1, rank: 0, warmingUp: false });
  });

  it('a failing census keeps the last share (never the whole cap) and says so once', async () => {
    const w = census('b');
    await w.at(0, ['a', 'b', 'c']);
    await w.at(2 * R, ['a', 'b', 'c']);
    const before = w.applied.length;
    await w.at(3 * R, [], new Error('14 UNAVAILABLE'));
    await w.at(4 * R, [], new Error('14 UNAVAILABLE'));
    expect(w.applied.length).toBe(before);
    expect(w.c.share).toEqual({ workers: 3, rank: 1, warmingUp: false });
    expect(w.warnings).toHaveLength(1);
    expect(w.warnings[0]).toMatch(/worker census failed \(14 UNAVAILABLE\): keeping this worker's share/);
    await w.at(5 * R, ['a', 'b', 'c']);
    await w.at(6 * R, [], new Error('again'));
    expect(w.warnings).toHaveLength(2);
  });

  it('before any census answered, a failure leaves the worker warming up', async () => {
    const w = census('b');
    await w.at(0, [], new Error('unreachable'));
    expect(w.applied).toEqual([]);
    expect(w.c.share).toBeNull();
    expect(w.warnings[0]).toMatch(/one slot per cap, no rate budget: no census yet/);
  });

  it('a worker the server never lists ends its warm-up after 10 intervals, with the share it counted', async () => {
    const w = census('b');
    await w.at(0, ['a', 'c']);
    await w.at(10 * R - 1, ['a', 'c']);
    expect(w.last().warmingUp).toBe(true);
    await w.at(10 * R, ['a', 'c']);
    expect(w.last()).toEqual({ workers: 3, rank: 1, warmingUp: false });
  });

  it('a census that never answers ends the warm-up after 10 intervals (whole caps, said once)', async () => {
    const w = census('b');
    await w.at(0, [], new Error('7 PERMISSION_DENIED'));
    await w.at(10 * R, [], new Error('7 PERMISSION_DENIED'));
    expect(w.last()).toEqual({ workers: 1, rank: 0, warmingUp: false });
    await w.at(11 * R, [], new Error('7 PERMISSION_DENIED'));
    expect(w.applied).toHaveLength(1);
    expect(w.warnings.filter((m) => /whole caps/.test(m))).toHaveLength(1);
  });
});
