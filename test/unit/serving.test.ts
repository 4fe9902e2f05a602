// The simulator's serving-capacity model: slots, FIFO queueing, time in queue and its counters,
// on a hand-driven clock (no timers, nothing timing-sensitive).
import { describe, expect, it } from 'vitest';
import { ServingPool, type Ticket } from '../../src/simulator/serving';

function pool(slots: number) {
  let now = 1_000;
  const settings = { servingSlots: slots };
  const p = new ServingPool(settings, () => now);
  const served: { id: string; others: number; queuedMs: number }[] = [];
  const tickets = new Map<string, Ticket>();
  const enter = (id: string, model = 'm') =>
    tickets.set(
      id,
      p.enter(model, (others, queuedMs) => served.push({ id, others, queuedMs })),
    );
  const leave = (id: string) => p.leave(tickets.get(id)!);
  const advance = (ms: number) => (now += ms);
  return { p, settings, served, enter, leave, advance, order: () => served.map((s) => s.id) };
}

describe('ServingPool', () => {
  it('serves up to the slots at once and queues the rest in arrival order', () => {
    const t = pool(2);
    for (const id of ['a', 'b', 'c', 'd', 'e']) t.enter(id);
    expect(t.order()).toEqual(['a', 'b']);
    expect(t.served.map((s) => s.others)).toEqual([0, 1]);
    expect(t.p.snapshot()).toMatchObject({ slots: 2, inService: 2, queued: 3, maxQueued: 3 });

    t.advance(50);
    t.leave('b');
    expect(t.order()).toEqual(['a', 'b', 'c']);
    t.advance(30);
    t.leave('a');
    t.leave('c');
    expect(t.order()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // Each queued call reports how long it waited and how many were served beside it.
    expect(t.served.slice(2)).toEqual([
      { id: 'c', others: 1, queuedMs: 50 },
      { id: 'd', others: 1, queuedMs: 80 },
      { id: 'e', others: 1, queuedMs: 80 },
    ]);
    expect(t.p.snapshot()).toMatchObject({
      inService: 2,
      queued: 0,
      maxInService: 2,
      maxQueued: 3,
      served: 5,
      waited: 3,
      queueMsTotal: 210,
      queueMsMax: 80,
    });
  });

  it('a call that leaves while queued gives up its place and is never served', () => {
    const t = pool(1);
    for (const id of ['a', 'b', 'c']) t.enter(id);
    t.leave('b');
    expect(t.p.snapshot()).toMatchObject({ inService: 1, queued: 1 });
    t.leave('a');
    expect(t.order()).toEqual(['a', 'c']);
    // Leaving twice (answered, then the socket closes) frees one slot, not two.
    t.leave('a');
    t.enter('d');
    expect(t.order()).toEqual(['a', 'c']);
    expect(t.p.snapshot()).toMatchObject({ inService: 1, queued: 1, served: 2 });
  });

  it('a new call waits behind the queue even when a slot has just been freed', () => {
    const t = pool(1);
    t.enter('a');
    t.enter('b');
    t.leave('a');
    t.enter('c');
    expect(t.order()).toEqual(['a', 'b']);
    t.leave('b');
    expect(t.order()).toEqual(['a', 'b', 'c']);
  });

  it('models have pools of their own', () => {
    const t = pool(1);
    t.enter('a', 'x');
    t.enter('b', 'y');
    t.enter('c', 'x');
    expect(t.order()).toEqual(['a', 'b']);
    const s = t.p.snapshot();
    expect(s.byModel.x).toMatchObject({ inService: 1, queued: 1 });
    expect(s.byModel.y).toMatchObject({ inService: 1, queued: 0 });
    expect(s).toMatchObject({ inService: 2, queued: 1 });
  });

  it('raising the slots or turning the model off serves the queue at the next pump', () => {
    const t = pool(1);
    for (const id of ['a', 'b', 'c', 'd']) t.enter(id);
    t.settings.servingSlots = 2;
    t.p.pumpAll();
    expect(t.order()).toEqual(['a', 'b']);
    t.settings.servingSlots = 0;
    t.p.pumpAll();
    expect(t.order()).toEqual(['a', 'b', 'c', 'd']);
    t.enter('e');
    expect(t.order()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('resetCounters keeps live calls and zeroes the rest', () => {
    const t = pool(1);
    for (const id of ['a', 'b', 'c']) t.enter(id);
    t.advance(10);
    t.leave('a');
    t.p.resetCounters();
    expect(t.p.snapshot()).toMatchObject({
      inService: 1,
      queued: 1,
      maxInService: 1,
      maxQueued: 1,
      served: 0,
      waited: 0,
      queueMsTotal: 0,
      queueMsMax: 0,
    });
    t.leave('b');
    expect(t.order()).toEqual(['a', 'b', 'c']);
  });

  it('a long queue stays in bounded memory as it is consumed', () => {
    const t = pool(1);
    t.enter('first');
    for (let i = 0; i < 5_000; i++) t.enter(`q${i}`);
    let prev = 'first';
    for (let i = 0; i < 5_000; i++) {
      t.leave(prev);
      prev = `q${i}`;
    }
    expect(t.served).toHaveLength(5_001);
    expect(t.order().slice(-2)).toEqual(['q4998', 'q4999']);
    expect(t.p.snapshot()).toMatchObject({ inService: 1, queued: 0, served: 5_001, waited: 5_000 });
  });
});
