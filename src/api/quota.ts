import { ApiError } from '../domain/api-error';
import type { Identity } from './auth/api-keys';
import { KeyedLock } from './keyed-lock';

/** What the quota asks Temporal (BatchService). */
export interface ActiveBatchCounter {
  countActive(tenant: string): Promise<number>;
  visibleBatchIds(ids: string[]): Promise<Set<string>>;
}

/** A batch this process started is assumed running until visibility lists it, at most this long. */
const UNSEEN_MAX_MS = 60_000;

/**
 * A tenant's `max_active_batches` (from the API keys file): a create or a replay that would start
 * one batch too many answers 429. The count is one visibility count of the tenant's running
 * batches. Visibility trails a start by a few ms (more on Elasticsearch), so the batches this
 * process started and visibility does not list yet are added to it, and the checks of one tenant
 * run one at a time, each with the start it admits. Several API processes may together admit one
 * batch too many per process within that lag.
 */
export class ActiveBatchQuota {
  private readonly locks = new KeyedLock();
  /** Per tenant: batches started here that visibility did not list at the last check, with when. */
  private readonly unseen = new Map<string, Map<string, number>>();

  constructor(private readonly temporal: ActiveBatchCounter) {}

  /**
   * Runs `create`, which calls `admit()` right before it starts a batch (after its own checks, and
   * only when it really starts one: an idempotent retry that finds its batch does not) and
   * resolves to the started batch.
   */
  async run<T extends { id: string }>(
    identity: Identity,
    create: (admit: () => Promise<void>) => Promise<T>,
  ): Promise<T> {
    const max = identity.maxActiveBatches;
    if (max === null) return create(async () => undefined);
    const { tenant } = identity;
    return this.locks.run(tenant, async () => {
      let admitted = false;
      const batch = await create(async () => {
        const active = (await this.countActive(tenant)) + (await this.unseenCount(tenant));
        if (active >= max) throw tooManyActiveBatches(tenant, active, max);
        admitted = true;
      });
      if (admitted) this.unseenOf(tenant).set(batch.id, Date.now());
      return batch;
    });
  }

  private countActive(tenant: string): Promise<number> {
    return this.temporal.countActive(tenant);
  }

  /** Batches started here that visibility does not list yet (asked only while there are any). */
  private async unseenCount(tenant: string): Promise<number> {
    const unseen = this.unseen.get(tenant);
    if (!unseen) return 0;
    for (const [id, at] of unseen) if (Date.now() - at > UNSEEN_MAX_MS) unseen.delete(id);
    if (unseen.size > 0)
      for (const id of await this.temporal.visibleBatchIds([...unseen.keys()])) unseen.delete(id);
    if (unseen.size === 0) this.unseen.delete(tenant);
    return unseen.size;
  }

  private unseenOf(tenant: string): Map<string, number> {
    let unseen = this.unseen.get(tenant);
    if (!unseen) {
      unseen = new Map();
      this.unseen.set(tenant, unseen);
    }
    return unseen;
  }
}

/**
 * 429 as OpenAI's rate limits answer (type and code name the limit; ours is a count of running
 * batches, not a rate). The server adds `x-should-retry: false`, so the openai clients do not
 * retry it on their own: it lifts only when one of the tenant's batches ends.
 */
export function tooManyActiveBatches(tenant: string, active: number, max: number): ApiError {
  return new ApiError(
    429,
    'rate_limit_error',
    `Tenant '${tenant}' has ${active} active batches, the most its API key allows (max_active_batches: ${max}). ` +
      'Wait for one to finish, or cancel one, before creating another.',
    null,
    'too_many_active_batches',
  );
}
