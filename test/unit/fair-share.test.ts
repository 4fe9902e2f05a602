import { describe, expect, it } from 'vitest';
import { ConcurrencyLimits } from '../../src/activities/runtime';
import { LaneSlots } from '../../src/activities/chunk/lane-slots';
import { FairShareSemaphore, type TenantQueue } from '../../src/gateway/fair-share';

const tick = () => new Promise<void>((r) => setImmediate(r));

interface LaneGroup {
  tenant: string;
  weight?: number;
  /** Lanes (holders that keep their slot from request to request), like a chunk's. */
  lanes: number;
  priority?: number;
}

/**
 * Saturation as chunks make it: every lane takes a slot, "sends" one request per event-loop turn,
 * and between requests gives its slot back and queues again when `shouldYield` says so. Returns
 * each tenant's requests after a warm-up, and the slots it held, summed per turn.
 */
async function saturate(
  sem: FairShareSemaphore,
  groups: LaneGroup[],
  turns = 400,
  warmup = 50,
): Promise<Record<string, { requests: number; held: number }>> {
  const out: Record<string, { requests: number; held: number }> = {};
  const queues = new Map<string, TenantQueue>();
  let turn = 0;
  let done = false;
  const lanes: Promise<void>[] = [];
  for (const g of groups) {
    out[g.tenant] ??= { requests: 0, held: 0 };
    for (let i = 0; i < g.lanes; i++) {
      const t = sem.join(g.tenant, g.weight);
      queues.set(g.tenant, t);
      const p = g.priority ?? 0;
      lanes.push(
        (async () => {
          await sem.acquire(t, p);
          while (!done) {
            await tick();
            if (turn >= warmup) out[g.tenant].requests++;
            if (sem.shouldYield(t, p)) {
              sem.release(t);
              await sem.acquire(t, p);
            }
          }
          sem.release(t);
          sem.leave(t);
        })(),
      );
    }
  }
  for (; turn < turns; turn++) {
    await tick();
    expect(sem.active).toBeLessThanOrEqual(sem.limit);
    if (turn >= warmup) for (const [name, t] of queues) out[name].held += t.active;
  }
  done = true;
  await Promise.all(lanes);
  return out;
}

const share = (r: Record<string, { requests: number }>, name: string) =>
  r[name].requests / Object.values(r).reduce((n, x) => n + x.requests, 0);

describe('FairShareSemaphore', () => {
  it('gives a tenant alone every slot at once, and queues it beyond the limit', async () => {
    const sem = new FairShareSemaphore(4);
    const a = sem.join('a');
    for (let i = 0; i < 4; i++) await sem.acquire(a, 0);
    expect(sem.active).toBe(4);
    let fifth = false;
    const p = sem.acquire(a, 0).then(() => (fifth = true));
    await tick();
    expect(fifth).toBe(false);
    expect(sem.waiting).toBe(1);
    // Nobody is owed anything: a lone tenant never yields to itself.
    expect(sem.shouldYield(a, 0)).toBe(false);
    sem.release(a);
    await p;
    expect(sem.active).toBe(4);
    expect(a.active).toBe(4);
  });

  it('is work-conserving under saturation: a lone tenant keeps the whole limit busy', async () => {
    const sem = new FairShareSemaphore(8);
    const r = await saturate(sem, [{ tenant: 'a', lanes: 24 }]);
    expect(r.a.held).toBe(8 * 350);
  });

  it('shares 1:1 between equal weights, however many lanes (batches, chunks) each runs', async () => {
    const sem = new FairShareSemaphore(8);
    // Tenant a: four batches of three chunks of eight lanes; tenant b: one batch.
    const r = await saturate(sem, [
      { tenant: 'a', lanes: 24, priority: 1 },
      { tenant: 'a', lanes: 24, priority: 2 },
      { tenant: 'a', lanes: 24, priority: 3 },
      { tenant: 'a', lanes: 24, priority: 4 },
      { tenant: 'b', lanes: 24, priority: 5 },
    ]);
    expect(share(r, 'b')).toBeCloseTo(0.5, 2);
    expect(r.a.held).toBe(4 * 350);
    expect(r.b.held).toBe(4 * 350);
  });

  it('a tenant with ten batches does not starve one with one (and later deadlines)', async () => {
    const sem = new FairShareSemaphore(10);
    const groups: LaneGroup[] = Array.from({ length: 10 }, (_, i) => ({
      tenant: 'many',
      lanes: 10,
      priority: i,
    }));
    const r = await saturate(sem, [...groups, { tenant: 'one', lanes: 10, priority: 1_000 }]);
    expect(share(r, 'one')).toBeCloseTo(0.5, 2);
  });

  it('shares 2:1 by weight under saturation (within one slot when the limit does not divide)', async () => {
    const even = await saturate(new FairShareSemaphore(12), [
      { tenant: 'heavy', weight: 2, lanes: 20 },
      { tenant: 'light', weight: 1, lanes: 20 },
    ]);
    expect(even.heavy.held).toBe(8 * 350);
    expect(even.light.held).toBe(4 * 350);
    expect(share(even, 'heavy')).toBeCloseTo(2 / 3, 2);

    // 8 slots at 2:1 is 5.33 : 2.67; a D'Hondt allocation settles on 5:3 or 6:2.
    const odd = await saturate(new FairShareSemaphore(8), [
      { tenant: 'heavy', weight: 2, lanes: 20 },
      { tenant: 'light', weight: 1, lanes: 20 },
    ]);
    expect(Math.abs(share(odd, 'heavy') - 2 / 3)).toBeLessThanOrEqual(1 / 8);
  });

  it('three tenants 3:2:1, and a tenant wanting less than its share leaves the rest to the others', async () => {
    const r = await saturate(new FairShareSemaphore(12), [
      { tenant: 'a', weight: 3, lanes: 20 },
      { tenant: 'b', weight: 2, lanes: 20 },
      { tenant: 'c', weight: 1, lanes: 20 },
    ]);
    expect([r.a.held, r.b.held, r.c.held]).toEqual([6 * 350, 4 * 350, 2 * 350]);

    // c has one lane: it gets its one slot, a and b split the other 11 by 1:1 (6:5 or 5:6).
    const small = await saturate(new FairShareSemaphore(12), [
      { tenant: 'a', lanes: 20 },
      { tenant: 'b', lanes: 20 },
      { tenant: 'c', lanes: 1 },
    ]);
    expect(small.c.held).toBe(350);
    expect(small.a.held + small.b.held).toBe(11 * 350);
    expect(Math.abs(small.a.held - small.b.held)).toBeLessThanOrEqual(350);
  });

  it('serves earlier deadlines first within a tenant; across tenants the share decides', async () => {
    const sem = new FairShareSemaphore(2);
    const a = sem.join('a');
    const b = sem.join('b');
    await sem.acquire(a, 50);
    await sem.acquire(a, 50);
    const order: string[] = [];
    const waits = [
      sem.acquire(a, 300).then(() => order.push('a300')),
      sem.acquire(a, 100).then(() => order.push('a100')),
      sem.acquire(b, 900).then(() => order.push('b900')),
      sem.acquire(a, 200).then(() => order.push('a200')),
    ];
    // a holds both slots while b waits: a should give one back, whatever b's deadline.
    expect(sem.shouldYield(a, 50)).toBe(true);
    sem.release(a);
    await tick();
    expect(order).toEqual(['b900']);
    // Now 1:1; a's own earlier waiter still asks a later holder of a to hand over.
    expect(sem.shouldYield(a, 50)).toBe(false);
    expect(sem.shouldYield(a, 150)).toBe(true);
    expect(sem.shouldYield(b, 900)).toBe(false);
    sem.release(a);
    sem.release(b);
    await tick();
    expect(order).toEqual(['b900', 'a100', 'a200']);
    sem.release(a);
    await Promise.all(waits);
    expect(order).toEqual(['b900', 'a100', 'a200', 'a300']);
  });

  it('breaks a tie between tenants by deadline', async () => {
    const sem = new FairShareSemaphore(1);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => sem.join(n));
    await sem.acquire(c, 0);
    const order: string[] = [];
    const waits = [
      sem.acquire(a, 20).then(() => order.push('a')),
      sem.acquire(b, 10).then(() => order.push('b')),
    ];
    sem.release(c);
    await tick();
    expect(order).toEqual(['b']);
    sem.release(b);
    await Promise.all(waits);
    expect(order).toEqual(['b', 'a']);
  });

  it('drops a waiter whose signal aborts, and the slot goes to the next tenant owed it', async () => {
    const sem = new FairShareSemaphore(1);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => sem.join(n));
    await sem.acquire(a, 0);
    const ctl = new AbortController();
    const aborted = sem.acquire(b, 0, ctl.signal);
    const next = sem.acquire(c, 5);
    expect(sem.waiting).toBe(2);
    ctl.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(sem.waiting).toBe(1);
    expect(b.waiting).toBe(0);
    // b waits no more: it is owed nothing, and a's holder need not yield to it.
    sem.release(a);
    await next;
    expect(c.active).toBe(1);
    expect(b.active).toBe(0);
    // An aborted signal refuses at once, and one that aborts after the grant changes nothing.
    await expect(sem.acquire(b, 0, ctl.signal)).rejects.toMatchObject({ name: 'AbortError' });
    const later = new AbortController();
    sem.release(c);
    await sem.acquire(b, 0, later.signal);
    later.abort();
    expect(sem.active).toBe(1);
    expect(b.active).toBe(1);
  });

  it('aborts a waiter in the middle of its tenant queue without disturbing the order', async () => {
    const sem = new FairShareSemaphore(1);
    const a = sem.join('a');
    await sem.acquire(a, 0);
    const ctls = Array.from({ length: 6 }, () => new AbortController());
    const order: number[] = [];
    const waits = ctls.map((c, i) =>
      sem.acquire(a, 10 - i, c.signal).then(
        () => order.push(10 - i),
        () => undefined,
      ),
    );
    ctls[2].abort();
    ctls[4].abort();
    for (let i = 0; i < 5; i++) {
      sem.release(a);
      await tick();
    }
    await Promise.all(waits);
    expect(order).toEqual([5, 7, 9, 10]);
    expect(sem.waiting).toBe(0);
  });

  it('follows limit changes: a cut takes no slot away, a raise grants by share', async () => {
    const sem = new FairShareSemaphore(4);
    const a = sem.join('a');
    const b = sem.join('b');
    for (let i = 0; i < 4; i++) await sem.acquire(a, 0);
    const granted: string[] = [];
    const waits = [
      ...Array.from({ length: 4 }, () => sem.acquire(a, 0).then(() => granted.push('a'))),
      ...Array.from({ length: 4 }, () => sem.acquire(b, 0).then(() => granted.push('b'))),
    ];
    sem.setLimit(2);
    expect(sem.active).toBe(4);
    sem.release(a);
    sem.release(a);
    await tick();
    // Still at the limit: nothing granted.
    expect(granted).toEqual([]);
    sem.release(a);
    await tick();
    // Below it: the slot goes to b, who holds none.
    expect(granted).toEqual(['b']);
    sem.setLimit(8);
    await tick();
    // 6 free slots for a (1 held) and b (1 held): 3 more each.
    expect(granted.filter((g) => g === 'a')).toHaveLength(3);
    expect(granted.filter((g) => g === 'b')).toHaveLength(4);
    expect(a.active).toBe(4);
    expect(b.active).toBe(4);
    sem.setLimit(0);
    expect(sem.limit).toBe(1);
    // a's last waiter goes once every slot is back.
    for (let i = 0; i < 8; i++) sem.release(i < 4 ? a : b);
    await Promise.all(waits);
    expect(a.active).toBe(1);
  });

  it('takes a weight change from the latest join, and forgets a tenant once it left and holds nothing', async () => {
    const sem = new FairShareSemaphore(3);
    const a = sem.join('a');
    const b = sem.join('b');
    for (let i = 0; i < 3; i++) await sem.acquire(a, 0);
    const waits = [sem.acquire(a, 0), sem.acquire(b, 0)];
    // Equal weights: b (none held) is owed a slot of a's three.
    expect(sem.shouldYield(a, 0)).toBe(true);
    expect(sem.join('a', 4)).toBe(a);
    expect(a.weight).toBe(4);
    // At 4:1, a may keep three of three (b would be owed one at four).
    expect(sem.shouldYield(a, 0)).toBe(false);
    sem.release(a);
    await waits[0];
    expect(a.active).toBe(3);
    expect(b.active).toBe(0);
    sem.leave(a);
    sem.leave(a);
    sem.leave(b);
    expect(sem.tenantCount).toBe(2);
    for (let i = 0; i < 3; i++) sem.release(a);
    await waits[1];
    expect(sem.tenantCount).toBe(1);
    sem.release(b);
    expect(sem.tenantCount).toBe(0);
    // A bad weight counts as 1.
    expect(sem.join('c', 0).weight).toBe(1);
    expect(sem.join('d', Number.NaN).weight).toBe(1);
  });
});

describe('ConcurrencyLimits.join and LaneSlots: a tenant at its max_in_flight waits while others proceed', () => {
  const limits = () =>
    new ConcurrencyLimits({
      GLOBAL_CONCURRENCY: 8,
      MODEL_CONCURRENCY: 6,
      MODEL_CONCURRENCY_OVERRIDES: new Map(),
      MODEL_RATE_LIMITS: new Map(),
      ADAPTIVE_CONCURRENCY: false,
      AIMD_DECREASE: 0.5,
      AIMD_INCREASE: 1,
      AIMD_WINDOW_MS: 200,
      AIMD_TOLERANCE: 0.05,
    });

  it('holds the cap across models and leaves the model slots to the others', async () => {
    const l = limits();
    const ctl = new AbortController();
    const capped = [
      l.join('a', 'm1', { weight: 1, maxInFlight: 2 }),
      l.join('a', 'm2', { weight: 1, maxInFlight: 2 }),
    ];
    const other = l.join('b', 'm1', null);
    const aLanes = Array.from({ length: 4 }, (_, i) => new LaneSlots(capped[i % 2], 0, ctl.signal));
    const bLanes = Array.from({ length: 6 }, () => new LaneSlots(other, 0, ctl.signal));
    let aHeld = 0;
    for (const s of aLanes) void s.acquire().then((ok) => ok && aHeld++);
    await tick();
    // Two in flight (one per model), two waiting at the cap.
    expect(aHeld).toBe(2);
    expect(capped[0].tenantCap.waiting).toBe(2);
    expect(l.model('m1').slots.active).toBe(1);
    expect(l.model('m2').slots.active).toBe(1);
    // a's waiting lanes hold no model slot: b takes the rest of m1.
    let bHeld = 0;
    for (const s of bLanes) void s.acquire().then((ok) => ok && bHeld++);
    await tick();
    expect(bHeld).toBe(5);
    expect(l.model('m1').slots.active).toBe(6);
    expect(l.global.active).toBe(7);
    // A lower cap from a later chunk of a: a lane over it hands over between requests.
    const lower = l.join('a', 'm1', { weight: 1, maxInFlight: 1 });
    expect(lower.tenantCap).toBe(capped[0].tenantCap);
    expect(lower.tenantCap.limit).toBe(1);
    void aLanes[0].handOver();
    await tick();
    expect(capped[0].tenantCap.active).toBe(1);
    // Its m1 slot went to b's waiting lane.
    expect(bHeld).toBe(6);
    expect(other.modelTenant.active).toBe(6);
    ctl.abort();
    await tick();
    for (const s of [...aLanes, ...bLanes]) s.release();
    for (const c of [...capped, other, lower]) c.leave();
    expect(l.global.active).toBe(0);
    expect(l.global.waiting).toBe(0);
    expect(l.global.tenantCount).toBe(0);
    expect(l.model('m1').slots.tenantCount).toBe(0);
    expect(l.model('m1').slots.active).toBe(0);
  });

  it('counts no cap as unlimited, and a cap below one as one', () => {
    const l = limits();
    expect(l.join('a', 'm', undefined).tenantCap.limit).toBe(Infinity);
    expect(l.join('b', 'm', { weight: 1, maxInFlight: 0 }).tenantCap.limit).toBe(1);
  });
});
