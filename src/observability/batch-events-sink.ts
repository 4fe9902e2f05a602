// The worker side of the batch state-change sink: one structured log line and the batch metrics per change.
import type { InjectedSinks } from '@temporalio/worker';
import { isTerminal } from '../domain/batch-state';
import type { BatchEventSinks, BatchStateEvent } from './batch-events';
import type { Logger } from './logger';
import { observeBatchState } from './metrics-worker';
import { activeTracing } from './tracing';

/** The `msg` of every state-change line: stable, so log queries can select them. */
export const BATCH_STATE_MSG = 'batch state changed';

/**
 * The sinks to register on a worker (`Worker.create({ sinks })`). Not called while a workflow
 * replays (callDuringReplay is off): a change is logged when it happens, not again on every replay.
 * A workflow task that fails and is retried may report its changes twice (Temporal's sink contract).
 */
export function batchEventSinks(logger: Logger): InjectedSinks<BatchEventSinks> {
  return {
    batchEvents: {
      stateChanged: {
        fn(info, event: BatchStateEvent) {
          const terminal = isTerminal(event.status);
          const durationS = terminal ? (event.at_ms - event.created_at_ms) / 1000 : null;
          observeBatchState(event.status, durationS);
          logger.info(
            {
              event: 'batch_state_changed',
              batch_id: event.batch_id,
              tenant: event.tenant,
              status: event.status,
              models: event.models,
              model_count: event.model_count,
              request_counts: event.request_counts,
              ...(event.error_code ? { error_code: event.error_code } : {}),
              ...(durationS !== null ? { duration_s: durationS } : {}),
              workflow_id: info.workflowId,
              run_id: info.runId,
              // The trace of the request that started the batch (the workflow's spans make none otherwise).
              ...(activeTracing() && event.trace_id
                ? { trace_id: event.trace_id, span_id: event.span_id }
                : {}),
            },
            BATCH_STATE_MSG,
          );
        },
        callDuringReplay: false,
      },
    },
  };
}
