// The process's one Prometheus registry (prom-client), and bounded label values for tenant-chosen strings.
import { collectDefaultMetrics, Registry } from 'prom-client';

/** Every metric of this process: the API's and the worker's share it when both run in one process. */
export const registry = new Registry();

// Node's own (process_cpu_seconds_total, nodejs_heap_size_used_bytes, event loop lag…), once per process.
collectDefaultMetrics({ register: registry });

/** The registry in Prometheus' text format, and its content type. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** The label value that stands for every name past a label's bound. */
export const OTHER = 'other';

/**
 * Label values for names tenants choose (models): the first `max` distinct names keep their own
 * value, later ones share OTHER, so a file of a million model names adds one series, not a million.
 * A Map, so `constructor` or `__proto__` are names like any other.
 */
export class BoundedLabels<T> {
  private readonly known = new Map<string, T>();
  private other: T | undefined;

  constructor(
    private readonly max: number,
    private readonly make: (label: string) => T,
  ) {}

  /** The entry of `name` (made on first use), or the shared OTHER entry once `max` names are known. */
  get(name: string): T {
    const hit = this.known.get(name);
    if (hit !== undefined) return hit;
    if (this.known.size < this.max) {
      const made = this.make(name);
      this.known.set(name, made);
      return made;
    }
    return (this.other ??= this.make(OTHER));
  }

  /** Every entry made so far (OTHER last, if it was needed). */
  *entries(): IterableIterator<T> {
    yield* this.known.values();
    if (this.other !== undefined) yield this.other;
  }
}
