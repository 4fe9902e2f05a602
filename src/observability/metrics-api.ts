// The API's metrics: HTTP requests by route template and status, and batches by status from Temporal visibility.
import { Gauge, Histogram } from 'prom-client';
import { BATCH_STATUSES } from '../domain/batch';
import { registry } from './metrics';

const httpDuration = new Histogram({
  name: 'batchgw_http_request_duration_seconds',
  help: 'API requests by method, route template (never the raw URL) and status, with their durations (_count: requests).',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Methods with a label value of their own; anything else a client sends is `other`. */
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
/** The route label of a request no route matched (404s, probes): raw URLs would be unbounded. */
export const UNMATCHED_ROUTE = 'unmatched';

type HttpChild = ReturnType<typeof httpDuration.labels>;
// route → method → status → child: a request costs three map lookups, no string or object built.
const httpChildren = new Map<string, Map<string, Map<number, HttpChild>>>();

/** One answered request. `route` is Fastify's route template (`/v1/batches/:batch_id`), or undefined. */
export function observeHttpRequest(
  method: string,
  route: string | undefined,
  status: number,
  seconds: number,
): void {
  const r = route ?? UNMATCHED_ROUTE;
  let byMethod = httpChildren.get(r);
  if (!byMethod) httpChildren.set(r, (byMethod = new Map()));
  let byStatus = byMethod.get(method);
  if (!byStatus) byMethod.set(method, (byStatus = new Map()));
  let child = byStatus.get(status);
  if (!child) {
    child = httpDuration.labels(METHODS.has(method) ? method : 'other', r, String(status));
    byStatus.set(status, child);
  }
  child.observe(seconds);
}

/** Counts batch workflows with a BatchStatus (all tenants, the whole namespace): BatchService.countByStatus. */
export type CountByStatus = (status: string) => Promise<number>;

// The latest API's counter (one gauge per process; a test process builds several APIs).
const source: { count: CountByStatus } = { count: async () => 0 };

/** How long one visibility count of the gauge may be reused: scrapes every few seconds cost one count each per status at most. */
export const BATCH_COUNT_TTL_MS = 10_000;
/** A scrape never waits longer than this for Temporal: a gauge without series says "unknown". */
const COUNT_TIMEOUT_MS = 3_000;

/**
 * `batchgw_batches{status}`: batches per status, cluster-wide, from Temporal visibility (one count
 * per status; Temporal groups only by ExecutionStatus), cached BATCH_COUNT_TTL_MS. Terminal counts
 * cover the namespace's retention. While Temporal does not answer, the gauge has no series.
 * Registered once per process, by the first API built; later APIs (tests) replace its source.
 */
export function registerBatchStatusGauge(count: CountByStatus): void {
  source.count = count;
  if (registry.getSingleMetric('batchgw_batches')) return;
  let cached: { at: number; counts: Map<string, number> } | null = null;
  let pending: Promise<Map<string, number> | null> | null = null;
  const refresh = async (): Promise<Map<string, number> | null> => {
    const counting = Promise.all(BATCH_STATUSES.map(async (s) => [s, await source.count(s)] as const));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((res) => {
      timer = setTimeout(() => res(null), COUNT_TIMEOUT_MS);
    });
    try {
      const counts = await Promise.race([counting, timeout]);
      if (!counts) return null;
      cached = { at: Date.now(), counts: new Map(counts) };
      return cached.counts;
    } catch {
      return null;
    } finally {
      clearTimeout(timer);
      counting.catch(() => undefined);
    }
  };
  new Gauge({
    name: 'batchgw_batches',
    help: 'Batches by status, cluster-wide (Temporal visibility, cached ~10 s; terminal statuses within retention).',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      let counts = cached && Date.now() - cached.at < BATCH_COUNT_TTL_MS ? cached.counts : null;
      if (!counts) counts = await (pending ??= refresh().finally(() => (pending = null)));
      this.reset();
      for (const [status, n] of counts ?? []) this.labels(status).set(n);
    },
  });
}
