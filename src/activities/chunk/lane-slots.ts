import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestOutcome } from '../../gateway/execute-request';
import type { ModelCapacity } from '../../gateway/model-capacity';
import { estimateRequestTokens } from '../../gateway/token-estimate';
import type { TokenCounts } from '../../gateway/usage';
import type { ChunkCapacity } from '../runtime';

/**
 * The capacity one lane of a chunk holds: a slot of its tenant's in-flight cap, a model slot and a
 * global slot, always taken in that order (so lanes never wait on each other in a cycle). The model
 * and global slots are shared between tenants by weight, and by priority within a tenant. A lane
 * keeps them from request to request (no churn), and gives them back
 * - between requests, when work of its tenant with an earlier priority waits, another tenant is
 *   owed the slot (fair shares), or the model's adaptive limit or the tenant's cap fell below the
 *   slots held (so a cut takes effect within one request per lane);
 * - while a request waits to retry (it is not in flight, and its retry must pass the limits again);
 * - the global slot only, while it waits for the model's rate limit (other models keep using it).
 */
export class LaneSlots {
  private capped = false;
  private model = false;
  private global = false;
  private readonly capacity: ModelCapacity;

  constructor(
    private readonly share: ChunkCapacity,
    private readonly priority: number,
    private readonly stop: AbortSignal,
  ) {
    this.capacity = share.model;
  }

  /** Takes whichever slot is not held yet; false when the chunk is stopped first. */
  async acquire(): Promise<boolean> {
    if (!(await this.acquireModel())) return false;
    if (this.global) return true;
    try {
      await this.share.global.acquire(this.share.globalTenant, this.priority, this.stop);
      this.global = true;
      return true;
    } catch {
      return false;
    }
  }

  release(): void {
    const s = this.share;
    if (this.global) s.global.release(s.globalTenant);
    if (this.model) s.model.slots.release(s.modelTenant);
    if (this.capped) s.tenantCap.release();
    this.global = this.model = this.capped = false;
  }

  /**
   * Between requests, without waiting (the common case, and no promise on the hot path): true when
   * the lane holds every slot and nobody should go first; otherwise call `handOver`.
   */
  keeps(): boolean {
    return this.global && this.model && !this.shouldYield();
  }

  /** Between requests: gives the slots back and queues again when someone else should go first. */
  async handOver(): Promise<boolean> {
    if (this.shouldYield()) this.release();
    return this.acquire();
  }

  private shouldYield(): boolean {
    const s = this.share;
    return (
      this.capacity.overLimit ||
      s.tenantCap.active > s.tenantCap.limit ||
      s.tenantCap.hasWaiterBefore(this.priority) ||
      s.model.slots.shouldYield(s.modelTenant, this.priority) ||
      s.global.shouldYield(s.globalTenant, this.priority)
    );
  }

  /** No rate limit on the model: `admit` would charge nothing, so it need not be awaited. */
  get unrated(): boolean {
    return !this.capacity.rate;
  }

  /**
   * Right before a request's first attempt: takes one request and its estimated tokens from the
   * model's rate limits. Returns the tokens charged (for `settle`), or null when stopped while waiting.
   */
  async admit(body: string): Promise<number | null> {
    const rate = this.capacity.rate;
    if (!rate) return 0;
    const tokens = rate.countsTokens ? await estimateRequestTokens(body) : 0;
    if (rate.tryTake(tokens)) return tokens;
    return (await this.waitForRate(tokens)) ? tokens : null;
  }

  /** executeRequest's retryWait: no slots are held during the wait, and the retry is admitted afresh. */
  readonly retryWait = async (ms: number): Promise<void> => {
    this.release();
    await sleep(ms, undefined, { signal: this.stop });
    if (!(await this.acquireModel())) throw new Error('stopped');
    // A retry is a request too (for requests per minute); its tokens were charged with the first attempt.
    if (this.capacity.rate && !this.capacity.rate.tryTake(0) && !(await this.waitForRate(0))) {
      throw new Error('stopped');
    }
    if (!(await this.acquire())) throw new Error('stopped');
  };

  /** executeRequest's onAttempt: every answer feeds the model's adaptive limit. */
  get onAttempt(): (result: number | 'transport', sentAt: number) => void {
    return this.capacity.onAttempt;
  }

  /**
   * Reconciles the tokens charged before sending with what the request really used: the reported
   * usage for a 2xx that reports it, nothing for an answer the model never ran (409, 429, other 4xx),
   * and the estimate when unknown (no answer, or 5xx after the last attempt).
   */
  settle(charged: number, outcome: RequestOutcome, tokens: TokenCounts): void {
    const rate = this.capacity.rate;
    if (!rate?.countsTokens || outcome.kind !== 'response') return;
    let used = 0;
    if (outcome.statusClass === 'success') {
      used = tokens.input + tokens.output;
      if (used === 0) return;
    } else if (outcome.statusClass === 'retryable' && outcome.status !== 429) return;
    rate.adjustTokens(charged - used);
  }

  /** Takes the tenant's cap slot, then the model slot (whichever is not held yet). */
  private async acquireModel(): Promise<boolean> {
    if (this.model) return true;
    try {
      if (!this.capped) {
        await this.share.tenantCap.acquire(this.priority, this.stop);
        this.capped = true;
      }
      await this.capacity.slots.acquire(this.share.modelTenant, this.priority, this.stop);
      this.model = true;
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for the rate limit holding only the model slot (and its tenant's cap slot), then takes the global slot again. */
  private async waitForRate(tokens: number): Promise<boolean> {
    if (this.global) {
      this.share.global.release(this.share.globalTenant);
      this.global = false;
    }
    try {
      await this.capacity.rate!.take(tokens, this.stop);
    } catch {
      return false;
    }
    return this.acquire();
  }
}
