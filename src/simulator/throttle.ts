import type { SimulatorSettings } from './config';

/**
 * The simulator's throttling modes, per model, as a gateway at capacity behaves: too many calls
 * being served (`rateLimitConcurrency`) or too many per minute (`rateLimitRpm`) get a 429 at once.
 * Calls being served are counted whether or not a mode is on, so one can be switched on mid-run.
 */
export class Throttle {
  private readonly serving = new Map<string, number>();
  private readonly buckets = new Map<string, { level: number; last: number }>();

  /**
   * Admits a call (the caller must `leave` once it is answered) or refuses it: returns the
   * Retry-After in seconds for a refusal, null for an admission.
   */
  admit(model: string, s: SimulatorSettings, nowMs: number): number | null {
    const serving = this.serving.get(model) ?? 0;
    if (s.rateLimitConcurrency > 0 && serving >= s.rateLimitConcurrency) return s.retryAfterS;
    if (s.rateLimitRpm > 0) {
      const wait = this.takeRpm(model, s.rateLimitRpm, nowMs);
      if (wait > 0) return Math.ceil(wait) / 1000;
    }
    this.serving.set(model, serving + 1);
    return null;
  }

  leave(model: string): void {
    this.serving.set(model, (this.serving.get(model) ?? 1) - 1);
  }

  /** Takes one call from the model's bucket (one second's worth, at least one); ms to wait when empty. */
  private takeRpm(model: string, rpm: number, nowMs: number): number {
    const capacity = Math.max(1, rpm / 60);
    const perMs = rpm / 60_000;
    let b = this.buckets.get(model);
    if (!b) {
      b = { level: capacity, last: nowMs };
      this.buckets.set(model, b);
    }
    b.level = Math.min(capacity, b.level + (nowMs - b.last) * perMs);
    b.last = nowMs;
    if (b.level >= 1) {
      b.level -= 1;
      return 0;
    }
    return (1 - b.level) / perMs;
  }
}
