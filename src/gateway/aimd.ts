/**
 * Adaptive concurrency for one model: additive increase, multiplicative decrease (AIMD), as TCP
 * does for its congestion window. Pure logic with an injected clock, so it is unit-tested alone.
 *
 * Every attempt's answer is fed in. Each answer that is not congestion raises the limit by
 * `increase / limit`, i.e. by about `increase` per round trip of a full limit of requests, up to the
 * cap. Congestion cuts the limit by the factor `decrease` (never below 1):
 * - a 429 is the gateway saying "slower" in so many words: it cuts at once;
 * - 5xx, 408 and missing answers may just be errors: they are judged per window, which closes once
 *   it has lasted `windowMs` and holds at least `limit` answers (about one round trip), or as soon as
 *   `limit` of its answers were congested; it cuts when more than `tolerance` of them were.
 * Answers to attempts sent before the last cut are ignored: they describe the old limit. So a burst of
 * 429s from the requests in flight cuts once, not once per 429, and isolated 5xx never cut.
 */
export interface AimdOptions {
  /** The cap (this worker's share of it): the limit starts there and never rises above it. */
  max: number;
  /** Factor applied to the limit on a cut, in (0, 1). */
  decrease: number;
  /** Slots added per round trip while the gateway keeps up. */
  increase: number;
  /** Shortest span over which 5xx and missing answers are judged. */
  windowMs: number;
  /** Share of a window's answers that may be 5xx or missing without a cut, in [0, 1). */
  tolerance: number;
}

/** What an attempt's answer says about the gateway's load. */
export type Signal = 'ok' | 'throttled' | 'failed';

export class AimdController {
  private value: number;
  private lastCutAt = -Infinity;
  private windowStart: number;
  private answers = 0;
  private failed = 0;

  private max: number;

  constructor(
    private readonly opts: AimdOptions,
    now: number,
  ) {
    this.max = opts.max;
    this.value = opts.max;
    this.windowStart = now;
  }

  /**
   * A new ceiling (the worker's share of the cap changed). A limit at the old ceiling (no
   * congestion seen) moves to the new one; a limit cut below it stays where it is, within the new
   * ceiling, and regrows from there. Returns true when `limit` changed.
   */
  setMax(max: number): boolean {
    const before = Math.floor(this.value);
    const m = Math.max(1, max);
    this.value = this.value >= this.max ? m : Math.min(this.value, m);
    this.max = m;
    return Math.floor(this.value) !== before;
  }

  /** The concurrency allowed now: an integer in [1, max]. */
  get limit(): number {
    return Math.floor(this.value);
  }

  /**
   * Feeds the answer to one attempt sent at `sentAt` and answered at `now` (same clock).
   * Returns true when `limit` changed.
   */
  record(signal: Signal, sentAt: number, now: number): boolean {
    if (sentAt < this.lastCutAt) return false;
    const before = Math.floor(this.value);
    if (signal === 'throttled') {
      this.cut(now);
      return Math.floor(this.value) !== before;
    }
    this.answers++;
    if (signal === 'failed') this.failed++;
    else if (this.value < this.max) {
      this.value = Math.min(this.max, this.value + this.opts.increase / before);
    }
    if (this.failed >= before || (now - this.windowStart >= this.opts.windowMs && this.answers >= before)) {
      if (this.failed > this.opts.tolerance * this.answers) this.cut(now);
      else this.openWindow(now);
    }
    return Math.floor(this.value) !== before;
  }

  private cut(now: number): void {
    this.value = Math.max(1, Math.floor(this.value * this.opts.decrease));
    this.lastCutAt = now;
    this.openWindow(now);
  }

  private openWindow(now: number): void {
    this.windowStart = now;
    this.answers = 0;
    this.failed = 0;
  }
}

/** Classifies an attempt's answer (HTTP status, or 'transport' when there was none). */
export function signalOf(result: number | 'transport'): Signal {
  if (result === 429) return 'throttled';
  if (result === 'transport' || result === 408 || result >= 500) return 'failed';
  return 'ok';
}
