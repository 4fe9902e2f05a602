// Each worker's part of the deployment's caps and rate limits, and resizing the limiters to it.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConcurrencyLimits } from '../../src/activities/runtime';
import { AimdController } from '../../src/gateway/aimd';
import { ALONE, capShare, rateShare, WARMING_UP, type WorkerShare } from '../../src/gateway/cluster-share';
import { ModelCapacity } from '../../src/gateway/model-capacity';
import { RateLimiter } from '../../src/gateway/rate-limit';

const at = (workers: number, rank: number): WorkerShare => ({ workers, rank, warmingUp: false });
const shares = (cap: number, n: number) => Array.from({ length: n }, (_, r) => capShare(cap, at(n, r)));
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('capShare', () => {
  it('splits a cap into parts that sum to exactly the cap, the remainder to the first ranks', () => {
    expect(shares(30, 3)).toEqual([10, 10, 10]);
    expect(shares(30, 4)).toEqual([8, 8, 7, 7]);
    expect(shares(7, 3)).toEqual([3, 2, 2]);
    const wrong: string[] = [];
    for (let cap = 1; cap <= 120; cap++)
      for (let n = 1; n <= Math.min(cap, 12); n++) {
        const s = shares(cap, n);
        if (sum(s) !== cap || Math.max(...s) - Math.min(...s) > 1) wrong.push(`${cap}/${n}: ${s.join(',')}`);
      }
    expect(wrong).toEqual([]);
  });

  it('gives every worker at least one slot: a cap below the worker count is exceeded by design', () => {
    expect(shares(2, 5)).toEqual([1, 1, 1, 1, 1]);
    expect(capShare(1, at(3, 2))).toBe(1);
  });

  it('never grows an old worker when one joins, never shrinks a survivor when one leaves', () => {
    // So while workers disagree about the membership the sum stays within the cap (plus newcomers' warm-up slot).
    const grew: string[] = [];
    for (let cap = 1; cap <= 80; cap++)
      for (let n = 1; n <= 10; n++)
        for (let pos = 0; pos <= n; pos++)
          // A newcomer sorts in at `pos`: old rank r becomes r or r + 1 (a leave is the same step backwards).
          for (let r = 0; r < n; r++) {
            const before = capShare(cap, at(n, r));
            const after = capShare(cap, at(n + 1, r < pos ? r : r + 1));
            if (after > before) grew.push(`cap ${cap}, ${n} → ${n + 1} at ${pos}, rank ${r}`);
          }
    expect(grew).toEqual([]);
  });

  it('warming up: one slot and no rate budget, whatever the cap', () => {
    expect(capShare(200, WARMING_UP)).toBe(1);
    expect(rateShare(600, WARMING_UP)).toBe(0);
    expect(capShare(200, ALONE)).toBe(200);
  });

  it('divides rate limits evenly, one weight per worker', () => {
    expect(rateShare(600, at(3, 0))).toBe(200);
    expect(rateShare(600, at(3, 2))).toBe(200);
    expect(rateShare(100, at(3, 1)) * 3).toBeCloseTo(100);
  });
});

describe('AimdController.setMax', () => {
  const opts = { max: 30, decrease: 0.5, increase: 1, windowMs: 100, tolerance: 0.05 };
  it('follows the new ceiling when it was at the old one, stays below it after a cut', () => {
    const a = new AimdController(opts, 0);
    expect(a.setMax(10)).toBe(true);
    expect(a.limit).toBe(10);
    expect(a.setMax(20)).toBe(true);
    expect(a.limit).toBe(20);
    a.record('throttled', 1, 2); // cut to 10
    expect(a.limit).toBe(10);
    expect(a.setMax(30)).toBe(false);
    expect(a.limit).toBe(10);
    a.setMax(4);
    expect(a.limit).toBe(4);
  });
});

describe('ModelCapacity.setWorkerShare', () => {
  it('resizes the slots to the share; holders above a smaller limit keep theirs until they hand over', async () => {
    const m = new ModelCapacity(30, null, undefined, () => 0, at(1, 0));
    const t = m.slots.join('t');
    for (let i = 0; i < 30; i++) await m.slots.acquire(t, 0);
    m.setWorkerShare(at(3, 0));
    expect(m.cap).toBe(10);
    expect(m.limit).toBe(10);
    expect(m.clusterCap).toBe(30);
    expect(m.slots.active).toBe(30);
    expect(m.overLimit).toBe(true);
    // A waiter gets no slot until the holders are below the new limit.
    let got = false;
    void m.slots.acquire(t, 0).then(() => (got = true));
    for (let i = 0; i < 20; i++) m.slots.release(t);
    await Promise.resolve();
    expect(got).toBe(false);
    m.slots.release(t);
    await Promise.resolve();
    expect(got).toBe(true);
    expect(m.slots.active).toBe(10);
  });

  it('grows back when a worker leaves, and the AIMD limit with it while it saw no congestion', () => {
    const aimd = { decrease: 0.5, increase: 1, windowMs: 100, tolerance: 0.05 };
    const m = new ModelCapacity(30, aimd, undefined, () => 0, at(3, 1));
    expect(m.limit).toBe(10);
    m.setWorkerShare(at(2, 1));
    expect(m.cap).toBe(15);
    expect(m.limit).toBe(15);
    m.onAttempt(429, 0);
    expect(m.limit).toBe(7);
    m.setWorkerShare(at(1, 0));
    expect(m.cap).toBe(30);
    expect(m.limit).toBe(7);
  });
});

describe('RateLimiter.setLimits', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const clock = () => Date.now();

  it('a paused bucket (share 0) lets only what is left go, and resumes at the new pace', async () => {
    const limiter = new RateLimiter({ rpm: 0 }, clock);
    const done: number[] = [];
    const start = Date.now();
    for (let i = 0; i < 3; i++) void limiter.take(0).then(() => done.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(10_000);
    // The bucket's one unit went at once; nothing else while paused, and no busy timer loop.
    expect(done).toEqual([0]);
    expect(vi.getTimerCount()).toBe(0);
    limiter.setLimits({ rpm: 60 }); // one per second
    await vi.advanceTimersByTimeAsync(2_100);
    expect(done).toEqual([0, 11_000, 12_000]);
  });

  it('a smaller share slows the pace of the waiters; a debt is still paid', async () => {
    const limiter = new RateLimiter({ rpm: 600 }, clock); // 10 per second, bucket of 10
    for (let i = 0; i < 10; i++) expect(limiter.tryTake(0)).toBe(true);
    limiter.setLimits({ rpm: 60 }); // 1 per second, bucket of 1
    const start = Date.now();
    const done: number[] = [];
    for (let i = 0; i < 2; i++) void limiter.take(0).then(() => done.push(Date.now() - start));
    await vi.advanceTimersByTimeAsync(2_000);
    expect(done).toEqual([1000, 2000]);
  });

  it('limits the buckets it was made with only', () => {
    const limiter = new RateLimiter({ tpm: 6000 }, clock);
    limiter.setLimits({ rpm: 1, tpm: 3000 });
    expect(limiter.countsTokens).toBe(true);
    // No requests bucket appeared: many requests of 0 tokens go at once.
    for (let i = 0; i < 50; i++) expect(limiter.tryTake(0)).toBe(true);
  });
});

describe('ConcurrencyLimits.setWorkerShare', () => {
  const limits = () =>
    new ConcurrencyLimits({
      GLOBAL_CONCURRENCY: 30,
      MODEL_CONCURRENCY: 20,
      MODEL_CONCURRENCY_OVERRIDES: new Map([['small', 2]]),
      MODEL_RATE_LIMITS: new Map([['m', { rpm: 600 }]]),
      ADAPTIVE_CONCURRENCY: true,
      AIMD_DECREASE: 0.5,
      AIMD_INCREASE: 1,
      AIMD_WINDOW_MS: 200,
      AIMD_TOLERANCE: 0.05,
    });

  it('resizes the global cap and every model, including models first used later', () => {
    const l = limits();
    const m = l.model('m');
    l.setWorkerShare(at(3, 2));
    expect(l.global.limit).toBe(10);
    expect(m.cap).toBe(6); // 20 over 3: 7, 7, 6
    expect(l.model('small').cap).toBe(1); // 2 over 3: at least one
    l.setWorkerShare(at(3, 0));
    expect(m.cap).toBe(7);
    expect(l.model('small').cap).toBe(1);
    expect(l.model('later').cap).toBe(7);
  });

  it('warming up: one slot per cap; whole caps once alone', () => {
    const l = limits();
    l.setWorkerShare(WARMING_UP);
    expect(l.global.limit).toBe(1);
    expect(l.model('m').cap).toBe(1);
    l.setWorkerShare(ALONE);
    expect(l.global.limit).toBe(30);
    expect(l.model('m').cap).toBe(20);
    expect(l.model('m').clusterCap).toBe(20);
  });
});
