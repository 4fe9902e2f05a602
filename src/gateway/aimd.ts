/**
 * Adaptive concurrency for one model: additive increase, multiplicative decrease (AIMD), as TCP
 * does for its congestion window. Pure logic with an injected clock, so it is unit-tested alone.
 *
 * Every attempt's answer is fed in. Each non-congested answer raises the limit by
 * `increase / limit`, i.e. by about `increase` per round trip of a full limit of requests. Congestion
 * (429, 5xx, no answer) is judged per window: a window closes once it has lasted `windowMs` and
 * holds at least `limit` answers (about one round trip), and the limit is cut by `decrease` when more
 * than `tolerance` of the window's answers were congested. So a burst of 429s cuts once, not once per
 * 429, and isolated 5xx do not cut at all.
 */
export interface AimdOptions {
  /** The configured cap: the limit starts there and never rises above it. */
  max: number;
  /** Factor applied to the limit on a cut, in (0, 1). */
  decrease: number;
  /** Slots added per round trip while the gateway keeps up. */
  increase: number;
  /** Shortest span over which congestion is judged, and so the shortest time between two cuts. */
  windowMs: number;
  /** Share of a window's answers that may be congested without a cut, in [0, 1). */
  tolerance: number;
}

export class AimdController {
  private value: number;
  private lastCutAt = -Infinity;
  private windowStart: number;
  private answers = 0;
  private congested = 0;

  constructor(
    private readonly opts: AimdOptions,
    now: number,
  ) {
    this.value = opts.max;
    this.windowStart = now;
  }

  /** The concurrency allowed now: an integer in [1, max]. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /**
   * Feeds the answer to one attempt sent at `sentAt` and answered at `now` (same clock).
   * Returns true when `limit` changed.
   */
  record(congested: boolean, sentAt: number, now: number): boolean {
    // Sent before the last cut: it reflects the old limit, and its verdict was already taken.
    if (sentAt < this.lastCutAt) return false;
    const before = Math.floor(this.value);
    this.answers++;
    if (congested) this.congested++;
    else if (this.value < this.opts.max) {
      this.value = Math.min(this.opts.max, this.value + this.opts.increase / before);
    }
    if (now - this.windowStart >= this.opts.windowMs && this.answers >= before) {
      if (this.congested > this.opts.tolerance * this.answers) {
        this.value = Math.max(1, Math.floor(this.value * this.opts.decrease));
        this.lastCutAt = now;
      }
      this.windowStart = now;
      this.answers = 0;
      this.congested = 0;
    }
    return Math.floor(this.value) !== before;
  }
}

/** Answers that mean "send less": rate limited, overloaded or broken upstream, or no answer at all. */
export function isCongestion(result: number | 'transport'): boolean {
  return result === 'transport' || result === 429 || result === 408 || result >= 500;
}
