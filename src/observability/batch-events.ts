// A batch's status change as a workflow reports it to its worker (a Temporal sink): workflow-safe, types and one pure function.
import type { Sinks } from '@temporalio/workflow';
import type { Batch, BatchStatus } from '../domain/batch';
import { activeSpanIds } from './tracing-ids';

/** At most this many model names go into one event; `model_count` has them all. */
export const EVENT_MODELS = 20;

/**
 * What a state change carries: ids, status, counts and model names. Never request or response
 * bodies, metadata values, headers or anything sealed.
 */
export interface BatchStateEvent {
  batch_id: string;
  tenant: string;
  status: BatchStatus;
  /** The batch's models (the first EVENT_MODELS), once its input was read; [] before. */
  models: string[];
  model_count: number;
  request_counts: { total: number; completed: number; failed: number };
  /** When the batch was created, epoch ms (to the second for batches without a creation time in ms). */
  created_at_ms: number;
  /** Workflow time of the change, epoch ms. */
  at_ms: number;
  /** The first error's code, for a failed batch (e.g. gateway_auth_failed). */
  error_code: string | null;
  /** The workflow's active span (its run's, or a handler's): logged when the worker traces. */
  trace_id?: string;
  span_id?: string;
}

/** The sink interface: `proxySinks<BatchEventSinks>()` in workflows, batch-events-sink.ts on the worker. */
export interface BatchEventSinks extends Sinks {
  batchEvents: { stateChanged(event: BatchStateEvent): void };
}

/** The event of `batch` as it is now, at workflow time `atMs`. */
export function stateEvent(
  batch: Batch,
  tenant: string,
  models: readonly string[],
  createdAtMs: number | null | undefined,
  atMs: number,
): BatchStateEvent {
  return {
    batch_id: batch.id,
    tenant,
    status: batch.status,
    models: models.slice(0, EVENT_MODELS),
    model_count: models.length,
    request_counts: { ...batch.request_counts },
    created_at_ms: createdAtMs ?? batch.created_at * 1000,
    at_ms: atMs,
    error_code: batch.errors?.data[0]?.code ?? null,
    ...activeSpanIds(),
  };
}
