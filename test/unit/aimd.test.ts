import { describe, expect, it } from 'vitest';
import { AimdController, signalOf, type AimdOptions, type Signal } from '../../src/gateway/aimd';

const OPTS: AimdOptions = { max: 100, decrease: 0.5, increase: 1, windowMs: 100, tolerance: 0.05 };

/** Feeds `n` answers sent at `sentAt` and answered at `now`. */
function feed(c: AimdController, n: number, signal: Signal, sentAt: number, now: number): void {
  for (let i = 0; i < n; i++) c.record(signal, sentAt, now);
}

describe('AimdController', () => {
  it('starts at the cap and never rises above it', () => {
    const c = new AimdController(OPTS, 0);
    expect(c.limit).toBe(100);
    feed(c, 1000, 'ok', 1, 50);
    expect(c.limit).toBe(100);
  });

  it('halves once for a burst of 429s from the requests in flight, not once per 429', () => {
    const c = new AimdController(OPTS, 0);
    expect(c.record('throttled', 10, 20)).toBe(true);
    expect(c.limit).toBe(50);
    // The other 199 requests sent before the cut come back 429 too: they describe the old limit.
    feed(c, 199, 'throttled', 10, 30);
    expect(c.limit).toBe(50);
    // A request sent after the cut and still refused: the new limit is too high as well.
    c.record('throttled', 25, 40);
    expect(c.limit).toBe(25);
  });

  it('judges 5xx per window: once it lasted windowMs and holds a round trip of answers', () => {
    const c = new AimdController(OPTS, 0);
    // 10 % failed: enough to cut, but only once the window has lasted 100 ms with 100 answers.
    feed(c, 9, 'failed', 1, 50);
    feed(c, 90, 'ok', 1, 50);
    feed(c, 1, 'failed', 1, 99);
    expect(c.limit).toBe(100);
    c.record('ok', 1, 100);
    expect(c.limit).toBe(50);
    // ...or at once when a whole round trip of answers (the limit) failed.
    feed(c, 49, 'failed', 101, 102);
    expect(c.limit).toBe(50);
    c.record('failed', 101, 102);
    expect(c.limit).toBe(25);
  });

  it('ignores isolated 5xx below the tolerance', () => {
    const c = new AimdController(OPTS, 0);
    let now = 0;
    for (let w = 0; w < 20; w++) {
      now += 100;
      // 3 failures in 100 answers: 3 % < 5 %.
      feed(c, 97, 'ok', now - 1, now);
      feed(c, 3, 'failed', now - 1, now);
    }
    expect(c.limit).toBe(100);
  });

  it('never goes below 1', () => {
    const c = new AimdController({ ...OPTS, max: 8 }, 0);
    for (let i = 1; i <= 10; i++) c.record('throttled', i, i);
    expect(c.limit).toBe(1);
    c.record('throttled', 20, 20);
    expect(c.limit).toBe(1);
  });

  it('grows back by about `increase` per round trip of successes, up to the cap', () => {
    const c = new AimdController({ ...OPTS, max: 40 }, 0);
    c.record('throttled', 1, 1);
    expect(c.limit).toBe(20);
    // One round trip at limit 20: 20 successes add one slot.
    feed(c, 20, 'ok', 2, 10);
    expect(c.limit).toBe(21);
    let now = 10;
    let rounds = 0;
    while (c.limit < 40) {
      now += 10;
      feed(c, c.limit, 'ok', now - 5, now);
      rounds++;
    }
    expect(rounds).toBe(19);
    feed(c, 1000, 'ok', now, now + 1);
    expect(c.limit).toBe(40);
  });

  it('classifies answers: 429 throttles, 408/5xx/no answer fail, the rest is fine', () => {
    expect(signalOf(429)).toBe('throttled');
    for (const r of [408, 500, 502, 503, 504, 'transport'] as const) expect(signalOf(r)).toBe('failed');
    for (const r of [200, 400, 401, 403, 404, 409, 422]) expect(signalOf(r)).toBe('ok');
  });
});
