import { BoundedMap } from '../bounded-map';
import type { Config } from '../config';
import { modelConcurrency } from '../config';
import { GatewayClient } from '../gateway/client';
import type { BatchOptions } from '../domain/batch-state';
import { ALONE, capShare, sameShare, type WorkerShare } from '../gateway/cluster-share';
import { FairShareSemaphore, type TenantQueue } from '../gateway/fair-share';
import { PrioritySemaphore } from '../gateway/limiter';
import { ModelCapacity } from '../gateway/model-capacity';
import { loadTokenizer } from '../gateway/token-estimate';
import type { ObjectStore } from '../storage/object-store';
import { FileRepository } from '../storage/file-repository';
import { guardWrites } from './storage-guard';

type LimitsConfig = Pick<
  Config,
  | 'GLOBAL_CONCURRENCY'
  | 'MODEL_CONCURRENCY'
  | 'MODEL_CONCURRENCY_OVERRIDES'
  | 'MODEL_RATE_LIMITS'
  | 'ADAPTIVE_CONCURRENCY'
  | 'AIMD_DECREASE'
  | 'AIMD_INCREASE'
  | 'AIMD_WINDOW_MS'
  | 'AIMD_TOLERANCE'
>;

/** A tenant's weight and in-flight cap (from the API keys file, carried in the batch's options). */
export type TenantShare = NonNullable<BatchOptions['tenantShare']>;

/**
 * What one chunk may use of this worker's capacity: its model's slots and the global slots, each
 * shared between tenants by weight (its tenant's place in each), and its tenant's cap on requests
 * in flight in this process. From `ConcurrencyLimits.join`; `leave()` once the chunk holds nothing.
 */
export interface ChunkCapacity {
  readonly model: ModelCapacity;
  readonly modelTenant: TenantQueue;
  readonly global: FairShareSemaphore;
  readonly globalTenant: TenantQueue;
  /** The tenant's `max_in_flight` in this process, by priority; unlimited when the share has none. */
  readonly tenantCap: PrioritySemaphore;
  leave(): void;
}

/**
 * Upstream capacity of this worker process: its share of the deployment's global cap, and per model
 * its share of the model's cap (which adapts to the gateway's 429/5xx answers below the share) and
 * of the optional requests/tokens-per-minute limits. The shares follow the number of live workers
 * (`setWorkerShare`, from worker-census.ts), so the caps and limits hold for the whole deployment.
 * Within its share, a process divides the slots between tenants in proportion to their weights
 * (FairShareSemaphore), and each tenant may have a cap of its own on its requests in flight in this
 * process (`max_in_flight`): fair sharing and tenant caps stay per process.
 */
export class ConcurrencyLimits {
  readonly global: FairShareSemaphore;
  private readonly perModel = new Map<string, ModelCapacity>();
  private readonly tenantCaps = new Map<string, { slots: PrioritySemaphore; users: number }>();
  private worker: WorkerShare = ALONE;

  constructor(private readonly config: LimitsConfig) {
    this.global = new FairShareSemaphore(config.GLOBAL_CONCURRENCY);
    // Loaded at start rather than in the middle of a batch (it blocks the event loop for ~1 s).
    if ([...config.MODEL_RATE_LIMITS.values()].some((l) => l.tpm !== undefined)) {
      loadTokenizer().catch(() => undefined);
    }
  }

  /** This process's place in the deployment (live workers, its rank, warming up). */
  get workerShare(): WorkerShare {
    return this.worker;
  }

  /**
   * Resizes every cap and rate limit to this process's share. A smaller limit takes no slot away:
   * holders finish their request and give their slot back (at most one request latency over).
   */
  setWorkerShare(share: WorkerShare): void {
    if (sameShare(share, this.worker)) return;
    this.worker = share;
    this.global.setLimit(capShare(this.config.GLOBAL_CONCURRENCY, share));
    for (const capacity of this.perModel.values()) capacity.setWorkerShare(share);
  }

  model(name: string): ModelCapacity {
    let capacity = this.perModel.get(name);
    if (!capacity) {
      const c = this.config;
      const aimd = c.ADAPTIVE_CONCURRENCY
        ? {
            decrease: c.AIMD_DECREASE,
            increase: c.AIMD_INCREASE,
            windowMs: c.AIMD_WINDOW_MS,
            tolerance: c.AIMD_TOLERANCE,
          }
        : null;
      capacity = new ModelCapacity(
        modelConcurrency(c, name),
        aimd,
        c.MODEL_RATE_LIMITS.get(name),
        undefined,
        this.worker,
      );
      this.perModel.set(name, capacity);
    }
    return capacity;
  }

  /**
   * A chunk of `tenant` on `model` joins the schedulers with its batch's share (absent: weight 1,
   * no cap). The share of the tenant's latest chunk applies to the whole tenant.
   */
  join(tenant: string, model: string, share?: TenantShare | null): ChunkCapacity {
    const weight = share?.weight ?? 1;
    // At least one: a cap of 0 would start no lane, and a chunk that sends nothing would look done.
    const cap = share?.maxInFlight == null ? Infinity : Math.max(1, Math.floor(share.maxInFlight) || 1);
    const capacity = this.model(model);
    const modelTenant = capacity.slots.join(tenant, weight);
    const globalTenant = this.global.join(tenant, weight);
    let tenantCap = this.tenantCaps.get(tenant);
    if (!tenantCap) {
      tenantCap = { slots: new PrioritySemaphore(cap), users: 0 };
      this.tenantCaps.set(tenant, tenantCap);
    } else if (tenantCap.slots.limit !== cap) tenantCap.slots.setLimit(cap);
    tenantCap.users++;
    const { global, tenantCaps } = this;
    const held = tenantCap;
    let left = false;
    return {
      model: capacity,
      modelTenant,
      global,
      globalTenant,
      tenantCap: held.slots,
      leave() {
        if (left) return;
        left = true;
        capacity.slots.leave(modelTenant);
        global.leave(globalTenant);
        if (--held.users === 0 && tenantCaps.get(tenant) === held) tenantCaps.delete(tenant);
      },
    };
  }
}

/** Everything the activities of one worker process share. */
export interface ActivityRuntime {
  config: Config;
  store: ObjectStore;
  files: FileRepository;
  gateway: GatewayClient;
  limits: ConcurrencyLimits;
  /** Batches whose gateway credentials were refused: no chunk of theirs sends anything more. */
  halted: Map<string, string>;
  /** Stop switches of the chunks running in this process, per batch, so a halt reaches all of them at once. */
  chunkStops: Map<string, Set<AbortController>>;
}

export function createActivityRuntime(
  config: Config,
  store: ObjectStore,
  gatewayUrl: string,
): ActivityRuntime {
  // Writes storage refuses for good (ENOSPC, EROFS…) fail activities non-retryably (storage-guard.ts).
  const guarded = guardWrites(store);
  return {
    config,
    store: guarded,
    files: new FileRepository(guarded),
    gateway: new GatewayClient({
      baseUrl: gatewayUrl,
      apiKey: config.GATEWAY_API_KEY,
      // Twice the cap, so the socket pool never stands in for the limiters (tests prove the caps).
      connections: config.GLOBAL_CONCURRENCY * 2,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
      // Set from each batch's tenant on every call, never from a client (GATEWAY_TENANT_HEADER).
      tenantHeader: config.GATEWAY_TENANT_HEADER,
    }),
    limits: new ConcurrencyLimits(config),
    halted: new BoundedMap(10_000),
    chunkStops: new Map(),
  };
}
