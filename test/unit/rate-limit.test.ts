import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config';
import { RateLimiter } from '../../src/gateway/rate-limit';

// Fake timers drive both the limiter's clock (Date.now) and its wake-up timer.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
const clock = () => Date.now();

/** Starts `take`s in order and records when each one resolves (ms after the start). */
function timedTakes(limiter: RateLimiter, tokens: number[]): { at: number[]; all: Promise<void[]> } {
  const start = Date.now();
  const at: number[] = [];
  const all = Promise.all(
    tokens.map((t, i) =>
      limiter.take(t).then(() => {
        at[i] = Date.now() - start;
      }),
    ),
  );
  return { at, all };
}

describe('RateLimiter', () => {
  it('requests per minute: one second of burst, then an even pace', async () => {
    const limiter = new RateLimiter({ rpm: 600 }, clock);
    const { at, all } = timedTakes(limiter, Array<number>(60).fill(0));
    await vi.runAllTimersAsync();
    await all;
    expect(at.slice(0, 10)).toEqual(Array<number>(10).fill(0));
    // Then one every 100 ms: the 60th request goes at 5 s.
    expect(at[10]).toBe(100);
    expect(at[59]).toBe(5000);
  });

  it('tokens per minute: a request larger than the bucket waits for a full one and leaves a debt', async () => {
    const limiter = new RateLimiter({ tpm: 6000 }, clock); // 100 tokens/s, bucket of 100
    expect(limiter.tryTake(60)).toBe(true);
    const { at, all } = timedTakes(limiter, [250, 10]);
    await vi.runAllTimersAsync();
    await all;
    // 250 > 100: waits until the bucket is full again (60 used → 600 ms), leaving it at -150.
    expect(at[0]).toBe(600);
    // The small one queued behind it waits for the debt to be repaid plus its own 10 tokens.
    expect(at[1]).toBe(600 + 1600);
  });

  it('serves in arrival order: a big request is not overtaken by small ones', async () => {
    const limiter = new RateLimiter({ tpm: 6000 }, clock);
    expect(limiter.tryTake(100)).toBe(true);
    const order: string[] = [];
    const big = limiter.take(80).then(() => order.push('big'));
    const small = limiter.take(1).then(() => order.push('small'));
    // At 500 ms the bucket holds 50: enough for the small ones, but they must not jump the queue.
    await vi.advanceTimersByTimeAsync(500);
    expect(order).toEqual([]);
    expect(limiter.tryTake(1)).toBe(false);
    await vi.runAllTimersAsync();
    await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
  });

  it('an aborted wait takes nothing and lets the next waiter through', async () => {
    const limiter = new RateLimiter({ rpm: 60 }, clock); // one per second, bucket of one
    expect(limiter.tryTake(0)).toBe(true);
    const ctl = new AbortController();
    const aborted = limiter.take(0, ctl.signal);
    const next = limiter.take(0);
    let nextAt = -1;
    void next.then(() => (nextAt = Date.now()));
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(300);
    ctl.abort();
    await expect(aborted).rejects.toThrow(/aborted/);
    expect(limiter.waiting).toBe(1);
    await vi.runAllTimersAsync();
    await next;
    expect(nextAt - start).toBe(1000);
    await expect(limiter.take(0, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('reconciles estimates: a refund lets waiters go sooner, a charge holds them back', async () => {
    const limiter = new RateLimiter({ tpm: 6000 }, clock);
    expect(limiter.tryTake(100)).toBe(true); // estimated 100
    let at = -1;
    const start = Date.now();
    const waiter = limiter.take(50).then(() => (at = Date.now() - start));
    await vi.advanceTimersByTimeAsync(100);
    limiter.adjustTokens(60); // the response reported 40: 60 back
    await vi.runAllTimersAsync();
    await waiter;
    expect(at).toBe(100);

    const other = new RateLimiter({ tpm: 6000 }, clock);
    expect(other.tryTake(10)).toBe(true); // estimated 10
    other.adjustTokens(-190); // reported 200: 190 more, so the bucket is at -100
    expect(other.tryTake(0)).toBe(false);
    const { at: later, all } = timedTakes(other, [0]);
    await vi.runAllTimersAsync();
    await all;
    expect(later[0]).toBe(1000);
  });

  it('without a tokens-per-minute limit, counts no tokens', () => {
    expect(new RateLimiter({ rpm: 10 }, clock).countsTokens).toBe(false);
    expect(new RateLimiter({ tpm: 10 }, clock).countsTokens).toBe(true);
  });
});

describe('MODEL_RATE_LIMITS and the AIMD settings', () => {
  it('parses per-model limits; a model without an entry is unlimited', () => {
    const c = loadConfig({ MODEL_RATE_LIMITS: '{"gpt-4o":{"rpm":600,"tpm":150000},"o3":{"tpm":1000}}' });
    expect(Object.fromEntries(c.MODEL_RATE_LIMITS)).toEqual({
      'gpt-4o': { rpm: 600, tpm: 150000 },
      o3: { tpm: 1000 },
    });
    expect(c.MODEL_RATE_LIMITS.get('gpt-4o-mini')).toBeUndefined();
    expect(c.MODEL_RATE_LIMITS.get('constructor')).toBeUndefined();
    expect(loadConfig({}).MODEL_RATE_LIMITS.size).toBe(0);
  });

  it.each([
    'not json',
    '{"gpt-4o": 600}',
    '{"gpt-4o": {"rpm": -1}}',
    '{"gpt-4o": {"rpm": "600"}}',
    '{"gpt-4o": {}}',
    '{"gpt-4o": {"rpm": 1, "rps": 2}}',
  ])('rejects MODEL_RATE_LIMITS=%s with one clear line', (value) => {
    expect(() => loadConfig({ MODEL_RATE_LIMITS: value })).toThrow(
      /MODEL_RATE_LIMITS: must be a JSON object/,
    );
  });

  it('has AIMD on by default, with validated knobs', () => {
    const d = loadConfig({});
    expect(d).toMatchObject({ ADAPTIVE_CONCURRENCY: true, AIMD_DECREASE: 0.5, AIMD_INCREASE: 1 });
    expect(loadConfig({ ADAPTIVE_CONCURRENCY: 'false' }).ADAPTIVE_CONCURRENCY).toBe(false);
    expect(() => loadConfig({ ADAPTIVE_CONCURRENCY: 'maybe' })).toThrow(/ADAPTIVE_CONCURRENCY/);
    expect(() => loadConfig({ AIMD_DECREASE: '1' })).toThrow(/AIMD_DECREASE/);
    expect(() => loadConfig({ AIMD_TOLERANCE: '-0.1' })).toThrow(/AIMD_TOLERANCE/);
  });
});
