import { describe, expect, it } from 'vitest';
import { PrioritySemaphore } from '../../src/gateway/limiter';

describe('PrioritySemaphore', () => {
  it('never exceeds its limit and serves earlier deadlines first', async () => {
    const sem = new PrioritySemaphore(2);
    await sem.acquire(100);
    await sem.acquire(100);
    const order: number[] = [];
    const waits = [300, 100, 200, 100].map((p, i) => sem.acquire(p).then(() => order.push(i)));
    expect(sem.active).toBe(2);
    expect(sem.waiting).toBe(4);
    sem.release();
    sem.release();
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([1, 3]);
    expect(sem.active).toBe(2);
    sem.release();
    sem.release();
    await Promise.all(waits);
    expect(order).toEqual([1, 3, 2, 0]);
  });

  it('drops a waiter whose signal aborts', async () => {
    const sem = new PrioritySemaphore(1);
    await sem.acquire(1);
    const ctl = new AbortController();
    const aborted = sem.acquire(1, ctl.signal);
    const next = sem.acquire(2);
    ctl.abort();
    await expect(aborted).rejects.toThrow(/aborted/);
    sem.release();
    await next;
    expect(sem.active).toBe(1);
  });
});
