// The worker's metrics: upstream calls per model (hot path: plain number increments, read at scrape) and batch state changes.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { TokenCounts } from '../gateway/usage';
import { BoundedLabels, registry } from './metrics';

/** Distinct model names with series of their own per process; later models count as `other`. */
export const MAX_MODEL_LABELS = 100;

// The upstream series are plain numbers on each model's ModelMetrics, copied into prom-client when
// scraped: prom-client hashes the labels on every inc(), too much for every attempt.
new Counter({
  name: 'batchgw_upstream_requests_total',
  help: 'Upstream attempts by model and answer: the HTTP status code, or timeout / connection_error when there was none (error: a fault of ours).',
  labelNames: ['model', 'status'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const m of models.entries())
      for (const c of m.byStatus.values()) this.labels(m.label, c.status).inc(c.n);
  },
});
new Gauge({
  name: 'batchgw_upstream_in_flight',
  help: 'Upstream requests sent and not yet answered, by model.',
  labelNames: ['model'] as const,
  registers: [registry],
  collect() {
    for (const m of models.entries()) this.labels(m.label).set(m.inFlight);
  },
});
new Counter({
  name: 'batchgw_upstream_retries_total',
  help: 'Upstream attempts after the first of their request (429, 5xx, timeouts, connection errors), by model.',
  labelNames: ['model'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const m of models.entries()) this.labels(m.label).inc(m.retries);
  },
});
new Counter({
  name: 'batchgw_upstream_tokens_total',
  help: 'Tokens the gateway reported as used, by model and direction (input, output).',
  labelNames: ['model', 'direction'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const m of models.entries()) {
      this.labels(m.label, 'input').inc(m.tokensIn);
      this.labels(m.label, 'output').inc(m.tokensOut);
    }
  },
});
// Read from the model's capacity when scraped: nothing on the hot path.
new Gauge({
  name: 'batchgw_upstream_concurrency_limit',
  help: 'In-flight requests a model may have in this worker now: the adaptive (AIMD) limit, at most its cap share; it falls on 429s.',
  labelNames: ['model'] as const,
  registers: [registry],
  collect() {
    for (const m of models.entries()) if (m.capacity) this.labels(m.label).set(m.capacity.limit);
  },
});
new Gauge({
  name: 'batchgw_upstream_concurrency_cap',
  help: "This worker's share of a model's cap on in-flight requests (summed over workers: the deployment's cap).",
  labelNames: ['model'] as const,
  registers: [registry],
  collect() {
    for (const m of models.entries()) if (m.capacity) this.labels(m.label).set(m.capacity.cap);
  },
});
const firstUpstreamCall = new Histogram({
  name: 'batchgw_batch_first_upstream_call_seconds',
  help: "Time from a batch's creation to its first upstream call (the first request of its first model).",
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200],
  registers: [registry],
});

const batchStateChanges = new Counter({
  name: 'batchgw_batch_state_changes_total',
  help: 'Batch status changes seen by the workflows this worker ran, by the status entered.',
  labelNames: ['status'] as const,
  registers: [registry],
});
const batchesFinished = new Counter({
  name: 'batchgw_batches_finished_total',
  help: 'Batches that reached a terminal status (completed, failed, cancelled, expired), by that status.',
  labelNames: ['status'] as const,
  registers: [registry],
});
const batchDuration = new Histogram({
  name: 'batchgw_batch_duration_seconds',
  help: "Time from a batch's creation to its terminal status, by that status.",
  labelNames: ['status'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400],
  registers: [registry],
});
const webhookDeliveries = new Counter({
  name: 'batchgw_webhook_deliveries_total',
  help: 'Webhook delivery attempts by outcome: delivered (2xx), failed (retried later), gone (410: stopped), gave_up (past WEBHOOK_RETRY_FOR_MS).',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/** What the concurrency gauges read of a model's capacity (ModelCapacity). */
export interface CapacityView {
  readonly limit: number;
  readonly cap: number;
}

/**
 * One model's upstream counts as plain numbers (read into the series when scraped): an attempt
 * costs a map lookup and a few increments, no allocation. Handed to executeRequest as its `observer`.
 */
export class ModelMetrics {
  /** The capacity the model's latest chunk in this process used, read by the gauges when scraped. */
  capacity: CapacityView | null = null;
  /** By the answer as given (status code or kind); `status` is its label value. */
  readonly byStatus = new Map<number | string, { status: string; n: number }>();
  inFlight = 0;
  retries = 0;
  tokensIn = 0;
  tokensOut = 0;

  constructor(readonly label: string) {}

  /** An attempt is sent (`attempt` counts from 1: later ones are retries). */
  readonly sent = (attempt: number): void => {
    this.inFlight++;
    if (attempt > 1) this.retries++;
  };

  /** An attempt is answered: its HTTP status, or how it failed without one. */
  readonly answered = (result: number | 'timeout' | 'connection_error' | 'error'): void => {
    this.inFlight--;
    let count = this.byStatus.get(result);
    if (!count) {
      // Only real status codes get a value of their own (a gateway could send anything).
      const status =
        typeof result === 'string' || (result >= 100 && result <= 599) ? String(result) : 'invalid';
      count = [...this.byStatus.values()].find((c) => c.status === status) ?? { status, n: 0 };
      this.byStatus.set(result, count);
    }
    count.n++;
  };

  /** Tokens a 2xx answer reported. */
  tokens(t: TokenCounts): void {
    this.tokensIn += t.input;
    this.tokensOut += t.output;
  }
}

const models = new BoundedLabels(MAX_MODEL_LABELS, (label) => new ModelMetrics(label));

/** The upstream metrics of `model` (its own series, or `other` past MAX_MODEL_LABELS models). */
export function modelMetrics(model: string): ModelMetrics {
  return models.get(model);
}

/** The batch's first upstream call, `createdAtMs` being when it was created (epoch ms). */
export function observeFirstUpstreamCall(createdAtMs: number, nowMs: number = Date.now()): void {
  firstUpstreamCall.observe(Math.max(0, nowMs - createdAtMs) / 1000);
}

/** A batch entered `status`; `durationS` is set once it is terminal (from its creation). */
export function observeBatchState(status: string, durationS: number | null): void {
  batchStateChanges.labels(status).inc();
  if (durationS === null) return;
  batchesFinished.labels(status).inc();
  batchDuration.labels(status).observe(Math.max(0, durationS));
}

/** A webhook delivery attempt ended (src/webhooks/deliver.ts). */
export function observeWebhookDelivery(outcome: 'delivered' | 'failed' | 'gone' | 'gave_up'): void {
  webhookDeliveries.labels(outcome).inc();
}
