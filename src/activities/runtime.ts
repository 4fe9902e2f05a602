import type { Config } from '../config';
import { modelConcurrency } from '../config';
import { GatewayClient } from '../gateway/client';
import { PrioritySemaphore } from '../gateway/limiter';
import type { ObjectStore } from '../storage/object-store';
import { FileRepository } from '../storage/file-repository';

/** Upstream capacity of this worker process: one global cap and one cap per model. */
export class ConcurrencyLimits {
  readonly global: PrioritySemaphore;
  private readonly perModel = new Map<string, PrioritySemaphore>();

  constructor(
    private readonly config: Pick<
      Config,
      'GLOBAL_CONCURRENCY' | 'MODEL_CONCURRENCY' | 'MODEL_CONCURRENCY_OVERRIDES'
    >,
  ) {
    this.global = new PrioritySemaphore(config.GLOBAL_CONCURRENCY);
  }

  model(name: string): PrioritySemaphore {
    let sem = this.perModel.get(name);
    if (!sem) {
      sem = new PrioritySemaphore(modelConcurrency(this.config, name));
      this.perModel.set(name, sem);
    }
    return sem;
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
  return {
    config,
    store,
    files: new FileRepository(store),
    gateway: new GatewayClient({
      baseUrl: gatewayUrl,
      apiKey: config.GATEWAY_API_KEY,
      // Twice the cap, so the socket pool never stands in for the limiters (tests prove the caps).
      connections: config.GLOBAL_CONCURRENCY * 2,
      timeoutMs: config.REQUEST_TIMEOUT_MS,
    }),
    limits: new ConcurrencyLimits(config),
    halted: new Map(),
    chunkStops: new Map(),
  };
}
