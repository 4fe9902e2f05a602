import { AimdController, signalOf, type AimdOptions } from './aimd';
import { FairShareSemaphore } from './fair-share';
import { RateLimiter, type RateLimits } from './rate-limit';

/**
 * One model's upstream capacity in a worker process: its slots, their adaptive limit (AIMD, between
 * 1 and the configured cap), and its rate limits. Lowering the limit does not take slots away from
 * their holders: a holder checks `overLimit` before its next request and gives its slot back.
 */
export class ModelCapacity {
  /** Shared between tenants by weight; by deadline within a tenant. */
  readonly slots: FairShareSemaphore;
  /** null when the model has no rate limit: then nothing is estimated or waited for. */
  readonly rate: RateLimiter | null;
  private readonly aimd: AimdController | null;
  private current: number;

  constructor(
    readonly cap: number,
    aimd: Omit<AimdOptions, 'max'> | null,
    rate: RateLimits | undefined,
    private readonly now: () => number = () => performance.now(),
  ) {
    // A cap that is not a positive integer would start no lanes: a chunk that silently does nothing.
    if (!Number.isInteger(cap) || cap < 1)
      throw new RangeError(`a model's concurrency cap must be a positive integer, not ${String(cap)}`);
    this.current = cap;
    this.slots = new FairShareSemaphore(cap);
    this.aimd = aimd ? new AimdController({ ...aimd, max: cap }, now()) : null;
    this.rate = rate ? new RateLimiter(rate) : null;
  }

  /** Requests of this model allowed in flight now. */
  get limit(): number {
    return this.current;
  }

  /** More slots are held than the limit now allows: a holder should give its slot back. */
  get overLimit(): boolean {
    return this.slots.active > this.current;
  }

  /** Fed with every attempt's answer (executeRequest's onAttempt); `sentAt` is on performance.now()'s clock. */
  readonly onAttempt = (result: number | 'transport', sentAt: number): void => {
    if (!this.aimd?.record(signalOf(result), sentAt, this.now())) return;
    this.current = this.aimd.limit;
    this.slots.setLimit(this.current);
  };
}
