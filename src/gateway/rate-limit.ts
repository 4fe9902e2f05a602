/**
 * Per-model rate limits: a requests-per-minute and a tokens-per-minute token bucket.
 *
 * Each bucket refills continuously at limit/60 per second and holds at most one second's worth
 * (at least one unit), so traffic is smooth rather than a minute's budget in one burst. A take larger
 * than the bucket waits for a full bucket and leaves it in debt, so big requests are never starved
 * and the average still holds. Token charges are estimates taken before sending; `adjustTokens`
 * refunds or charges the difference once the gateway has reported the real usage.
 */

import { abortError } from './limiter';
export interface RateLimits {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute (input plus expected output). */
  tpm?: number;
}

class Bucket {
  private level = 0;
  private last: number;
  private perMs = 0;
  private capacity = 1;

  constructor(perMinute: number, now: number) {
    this.last = now;
    this.setRate(perMinute);
    this.level = this.capacity;
  }

  /**
   * A new rate (this worker's share changed): refills at the new pace from now on; the level is
   * kept (clamped to the new capacity), so a debt is still paid. 0 pauses: only what is left goes.
   */
  setRate(perMinute: number, now?: number): void {
    if (now !== undefined) this.refill(now);
    this.perMs = perMinute / 60_000;
    this.capacity = Math.max(1, perMinute / 60);
    this.level = Math.min(this.level, this.capacity);
  }

  /** Milliseconds until `amount` may be taken (0: now; Infinity: paused and short). */
  waitFor(amount: number, now: number): number {
    this.refill(now);
    const need = Math.min(amount, this.capacity);
    if (this.level >= need) return 0;
    return this.perMs > 0 ? (need - this.level) / this.perMs : Infinity;
  }

  /** Negative amounts give back; the level may go below zero (debt) but never above capacity. */
  take(amount: number): void {
    this.level = Math.min(this.capacity, this.level - amount);
  }

  private refill(now: number): void {
    this.level = Math.min(this.capacity, this.level + (now - this.last) * this.perMs);
    this.last = now;
  }
}

interface Waiter {
  tokens: number;
  resolve: () => void;
  reject: (err: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export class RateLimiter {
  private readonly requests: Bucket | null;
  private readonly tokens: Bucket | null;
  // Served strictly in arrival order, so a big request is not overtaken forever by small ones.
  private readonly queue: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    limits: RateLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    const t = now();
    this.requests = limits.rpm !== undefined ? new Bucket(limits.rpm, t) : null;
    this.tokens = limits.tpm !== undefined ? new Bucket(limits.tpm, t) : null;
  }

  /** True when a tokens-per-minute limit is set: only then must callers estimate tokens. */
  get countsTokens(): boolean {
    return this.tokens !== null;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /**
   * New limits for the buckets this limiter was made with (this worker's share of the deployment's
   * limits changed); 0 pauses a bucket until the next change. Waiters are served at the new pace.
   */
  setLimits(limits: RateLimits): void {
    const t = this.now();
    if (this.requests && limits.rpm !== undefined) this.requests.setRate(limits.rpm, t);
    if (this.tokens && limits.tpm !== undefined) this.tokens.setRate(limits.tpm, t);
    if (this.queue.length > 0) this.pump();
  }

  /** Takes one request and `tokens` tokens if both are available now, without waiting. */
  tryTake(tokens: number): boolean {
    if (this.queue.length > 0 || this.waitFor(tokens) > 0) return false;
    this.charge(tokens);
    return true;
  }

  /**
   * Takes one request and `tokens` tokens, waiting in arrival order until both buckets allow it.
   * Rejects with an AbortError if `signal` aborts first (nothing is taken then).
   */
  take(tokens: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError('the rate limit'));
    if (this.tryTake(tokens)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { tokens, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter);
          if (i < 0) return;
          this.queue.splice(i, 1);
          reject(abortError('the rate limit'));
          if (i === 0) this.pump();
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      if (this.queue.length === 1) this.pump();
    });
  }

  /** Reconciles an estimate: positive gives tokens back, negative charges more. */
  adjustTokens(delta: number): void {
    if (!this.tokens || delta === 0) return;
    this.tokens.take(-delta);
    if (delta > 0 && this.queue.length > 0) this.pump();
  }

  private waitFor(tokens: number): number {
    const t = this.now();
    const r = this.requests ? this.requests.waitFor(1, t) : 0;
    const k = this.tokens ? this.tokens.waitFor(tokens, t) : 0;
    return Math.max(r, k);
  }

  private charge(tokens: number): void {
    this.requests?.take(1);
    this.tokens?.take(tokens);
  }

  /** Serves the head of the queue while it fits, then sleeps until it will. */
  private pump(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) {
      const head = this.queue[0];
      const wait = this.waitFor(head.tokens);
      if (wait > 0) {
        // Paused (a share of 0): setLimits pumps again once there is a rate.
        if (Number.isFinite(wait)) this.timer = setTimeout(() => this.pump(), Math.ceil(wait));
        return;
      }
      this.queue.shift();
      this.charge(head.tokens);
      if (head.onAbort) head.signal!.removeEventListener('abort', head.onAbort);
      head.resolve();
    }
  }
}
