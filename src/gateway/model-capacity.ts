import { AimdController, signalOf, type AimdOptions } from './aimd';
import { capShare, rateShare, ALONE, type WorkerShare } from './cluster-share';
import { FairShareSemaphore } from './fair-share';
import { RateLimiter, type RateLimits } from './rate-limit';

/**
 * One model's upstream capacity in a worker process: its slots, their adaptive limit (AIMD, between
 * 1 and this worker's share of the deployment's cap), and its share of the rate limits. Lowering the
 * limit does not take slots away from their holders: a holder checks `overLimit` before its next
 * request and gives its slot back.
 */
export class ModelCapacity {
  /** Shared between tenants by weight; by deadline within a tenant. */
  readonly slots: FairShareSemaphore;
  /** null when the model has no rate limit: then nothing is estimated or waited for. */
  readonly rate: RateLimiter | null;
  private readonly aimd: AimdController | null;
  private share: number;
  private current: number;

  /**
   * `clusterCap` and `rateLimits` are the deployment's; `worker` says which part of them is this
   * process's (worker-census.ts); absent: all of it.
   */
  constructor(
    readonly clusterCap: number,
    aimd: Omit<AimdOptions, 'max'> | null,
    private readonly rateLimits: RateLimits | undefined,
    private readonly now: () => number = () => performance.now(),
    worker: WorkerShare = ALONE,
  ) {
    // A cap that is not a positive integer would start no lanes: a chunk that silently does nothing.
    if (!Number.isInteger(clusterCap) || clusterCap < 1)
      throw new RangeError(`a model's concurrency cap must be a positive integer, not ${String(clusterCap)}`);
    this.share = capShare(clusterCap, worker);
    this.current = this.share;
    this.slots = new FairShareSemaphore(this.share);
    this.aimd = aimd ? new AimdController({ ...aimd, max: this.share }, now()) : null;
    this.rate = rateLimits ? new RateLimiter(this.rateShareOf(worker), now) : null;
  }

  /** This worker's share of the cap now (the AIMD limit's ceiling). */
  get cap(): number {
    return this.share;
  }

  /** Requests of this model allowed in flight now. */
  get limit(): number {
    return this.current;
  }

  /** More slots are held than the limit now allows: a holder should give its slot back. */
  get overLimit(): boolean {
    return this.slots.active > this.current;
  }

  /**
   * This worker's part of the deployment changed: the cap's share and the rate limits' shares
   * follow. Holders above a smaller limit finish their request and give their slot back.
   */
  setWorkerShare(worker: WorkerShare): void {
    const share = capShare(this.clusterCap, worker);
    if (share !== this.share) {
      this.share = share;
      if (this.aimd) this.aimd.setMax(share);
      this.current = this.aimd ? this.aimd.limit : share;
      this.slots.setLimit(this.current);
    }
    if (this.rate) this.rate.setLimits(this.rateShareOf(worker));
  }

  /** Fed with every attempt's answer (executeRequest's onAttempt); `sentAt` is on performance.now()'s clock. */
  readonly onAttempt = (result: number | 'transport', sentAt: number): void => {
    if (!this.aimd?.record(signalOf(result), sentAt, this.now())) return;
    this.current = this.aimd.limit;
    this.slots.setLimit(this.current);
  };

  private rateShareOf(worker: WorkerShare): RateLimits {
    const l = this.rateLimits ?? {};
    return {
      ...(l.rpm !== undefined ? { rpm: rateShare(l.rpm, worker) } : {}),
      ...(l.tpm !== undefined ? { tpm: rateShare(l.tpm, worker) } : {}),
    };
  }
}
