import { BoundedMap } from '../bounded-map';
import type { Config } from '../config';
import { modelConcurrency } from '../config';
import { GatewayClient } from '../gateway/client';
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

/**
 * Upstream capacity of this worker process: one global cap, and per model a cap that adapts to the
 * gateway's 429/5xx answers plus optional requests/tokens-per-minute limits.
 */
export class ConcurrencyLimits {
  readonly global: PrioritySemaphore;
  private readonly perModel = new Map<string, ModelCapacity>();

  constructor(private readonly config: LimitsConfig) {
    this.global = new PrioritySemaphore(config.GLOBAL_CONCURRENCY);
    // Loaded at start rather than in the middle of a batch (it blocks the event loop for ~1 s).
    if ([...config.MODEL_RATE_LIMITS.values()].some((l) => l.tpm !== undefined)) {
      loadTokenizer().catch(() => undefined);
    }
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
      capacity = new ModelCapacity(modelConcurrency(c, name), aimd, c.MODEL_RATE_LIMITS.get(name));
      this.perModel.set(name, capacity);
    }
    return capacity;
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
