import { describe, expect, it } from 'vitest';
import { AimdController, isCongestion, type AimdOptions } from '../../src/gateway/aimd';

const OPTS: AimdOptions = { max: 100, decrease: 0.5, increase: 1, windowMs: 100, tolerance: 0.05 };

/** Feeds `n` answers sent at `sentAt` and answered at `now`; returns how many changed the limit. */
function feed(c: AimdController, n: number, congested: boolean, sentAt: number, now: number): number {
  let changes = 0;
  for (let i = 0; i < n; i++) if (c.record(congested, sentAt, now)) changes++;
  return changes;
}

describe('AimdController', () => {
  it('starts at the cap and never rises above it', () => {
    const c = new AimdController(OPTS, 0);
    expect(c.limit).toBe(100);
    expect(feed(c, 1000, false, 1, 50)).toBe(0);
    expect(c.limit).toBe(100);
  });

  it('halves once for a burst of 429s, not once per 429', () => {
    const c = new AimdController(OPTS, 0);
    // 200 requests in flight at the old limit all come back 429 within the same window.
    feed(c, 100, true, 10, 120);
    expect(c.limit).toBe(50);
    feed(c, 100, true, 10, 130);
    expect(c.limit).toBe(50);
    // Requests sent after the cut are judged in the next window, once it has lasted windowMs.
    feed(c, 60, true, 125, 200);
    expect(c.limit).toBe(50);
    feed(c, 1, true, 125, 221);
    expect(c.limit).toBe(25);
  });

  it('judges a window only once it holds about a round trip of answers', () => {
    const c = new AimdController(OPTS, 0);
    feed(c, 99, true, 1, 500);
    expect(c.limit).toBe(100);
    feed(c, 1, true, 1, 500);
    expect(c.limit).toBe(50);
  });

  it('ignores isolated errors below the tolerance', () => {
    const c = new AimdController(OPTS, 0);
    let now = 0;
    for (let w = 0; w < 20; w++) {
      now += 100;
      // 3 errors in 100 answers: 3 % < 5 %.
      feed(c, 97, false, now - 1, now);
      feed(c, 3, true, now - 1, now);
    }
    expect(c.limit).toBe(100);
  });

  it('never goes below 1', () => {
    const c = new AimdController({ ...OPTS, max: 8 }, 0);
    let now = 0;
    for (let w = 0; w < 10; w++) {
      now += 100;
      feed(c, 8, true, now - 1, now);
    }
    expect(c.limit).toBe(1);
  });

  it('grows back by about `increase` per round trip of successes, up to the cap', () => {
    const c = new AimdController({ ...OPTS, max: 40 }, 0);
    feed(c, 40, true, 1, 100);
    expect(c.limit).toBe(20);
    // One round trip at limit 20: 20 successes add one slot.
    feed(c, 20, false, 101, 110);
    expect(c.limit).toBe(21);
    let now = 110;
    let rounds = 0;
    while (c.limit < 40) {
      now += 10;
      feed(c, c.limit, false, now - 5, now);
      rounds++;
    }
    expect(rounds).toBe(19);
    feed(c, 1000, false, now, now + 1);
    expect(c.limit).toBe(40);
  });

  it('treats 429, 408, 5xx and no answer as congestion', () => {
    for (const r of [429, 408, 500, 502, 503, 504, 'transport'] as const) expect(isCongestion(r)).toBe(true);
    for (const r of [200, 400, 401, 403, 404, 409, 422]) expect(isCongestion(r)).toBe(false);
  });
});
