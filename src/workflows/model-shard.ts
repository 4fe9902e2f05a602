import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { addCounts, zeroCounts } from '../domain/counts';
import { BUDGET_EXCEEDED, GATEWAY_AUTH_FAILED } from '../domain/failures';
import { progressSignal, stopSignal, type StopReason } from './definitions';
import type { Counts, ModelShardInput } from './types';

const { processChunk } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '4 hours',
  // Chunks heartbeat every second: a dead worker's chunks are retried elsewhere within 10 s,
  // and cancellation reaches running chunks within about a second.
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    // No attempt limit: worker restarts and deploys count as failed attempts, and must never fail
    // a batch. A chunk that can never succeed is bounded by the batch's completion window.
    nonRetryableErrorTypes: [GATEWAY_AUTH_FAILED, BUDGET_EXCEEDED],
  },
});

/** Chunks per run before continuing as new, so history stays bounded at any shard size. */
const MAX_CHUNKS_PER_RUN = 500;

/**
 * Works through one model's requests in chunks, keeping `plan.window` chunk activities in
 * flight, reporting progress to the parent per chunk, and continuing as new every so often.
 */
export async function modelShardWorkflow(input: ModelShardInput): Promise<Counts> {
  const { plan, segmentsPerChunk } = input;
  const totals = input.totals;
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  const chunks = new CancellationScope();
  const inflight = new Map<number, Promise<void>>();
  let next = input.cursor;
  let started = 0;
  let draining = false;
  // Set from promise callbacks, so kept in an object (closures defeat TypeScript's narrowing).
  const outcome: { cancelled: boolean; failure: ApplicationFailure | null; stop: StopReason | null } = {
    cancelled: false,
    failure: null,
    stop: null,
  };
  // The parent's stop (cancel, expiry, budget, another model's failure) reaches whichever run of
  // this workflow is current: start nothing more, cancel the running chunks, which let their
  // in-flight requests finish and report cancelled.
  setHandler(stopSignal, (reason) => {
    if (outcome.stop) return;
    outcome.stop = reason;
    if (inflight.size > 0) chunks.cancel();
  });
  // Once the model is stopping, a chunk that dies, times out or is cancelled is part of the stop,
  // not a failure: finalize accounts for every line it did not finish.
  const stopping = () => outcome.stop !== null || CancellationScope.current().consideredCancelled;

  // Progress deltas are coalesced: at most one signal in flight, the next carries what piled up.
  const progress: { pending: Counts; sending: Promise<void> | null } = {
    pending: zeroCounts(),
    sending: null,
  };
  const flush = (): void => {
    const delta = progress.pending;
    if (progress.sending || (delta.completed === 0 && delta.failed === 0)) return;
    progress.pending = zeroCounts();
    progress.sending = CancellationScope.nonCancellable(() => parent.signal(progressSignal, delta))
      .catch(() => undefined)
      .then(() => {
        progress.sending = null;
      });
  };

  const startChunk = (from: number): void => {
    const to = Math.min(from + segmentsPerChunk, plan.segments);
    const run = chunks
      .run(() =>
        processChunk({
          tenant: input.tenant,
          batchId: input.batchId,
          endpoint: input.endpoint,
          modelIndex: plan.index,
          model: plan.model,
          fromSegment: from,
          toSegment: to,
          deadline: input.deadline,
          options: input.options,
        }),
      )
      .then((counts) => {
        addCounts(totals, counts);
        addCounts(progress.pending, counts);
      })
      .catch((err: unknown) => {
        if (isCancellation(err) || stopping()) outcome.cancelled = true;
        else outcome.failure ??= asApplicationFailure(err);
      })
      .finally(() => inflight.delete(from));
    inflight.set(from, run);
  };

  const stopped = () => outcome.cancelled || outcome.failure !== null || stopping();

  while (inflight.size > 0 || (next < plan.segments && !draining && !stopped())) {
    while (!draining && !stopped() && next < plan.segments && inflight.size < plan.window) {
      startChunk(next);
      next += segmentsPerChunk;
      started++;
    }
    await Promise.race(inflight.values());
    flush();
    if (outcome.failure && inflight.size > 0) chunks.cancel();
    if (!draining && (started >= MAX_CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested))
      draining = true;
  }

  // Deliver the last progress before leaving, whatever the reason.
  const settle = async () => {
    while (progress.sending) await progress.sending;
  };
  await CancellationScope.nonCancellable(async () => {
    await settle();
    flush();
    await settle();
  });

  // Asked to stop by the parent: a normal end (the parent knows why), never a continue-as-new.
  if (outcome.stop) return totals;
  if (outcome.failure) throw outcome.failure;
  if (outcome.cancelled || CancellationScope.current().consideredCancelled) {
    throw new CancelledFailure('model shard cancelled');
  }
  if (next < plan.segments) {
    return await continueAsNew<typeof modelShardWorkflow>({ ...input, cursor: next, totals });
  }
  return totals;
}

/** Keeps the activity's failure type (e.g. gateway auth) so the parent can name the batch error. */
function asApplicationFailure(err: unknown): ApplicationFailure {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return ApplicationFailure.create({
      message: cause.message,
      type: cause.type ?? 'ChunkFailed',
      nonRetryable: true,
      details: cause.details as unknown[] | undefined,
    });
  }
  return ApplicationFailure.create({
    message: String((cause as Error)?.message ?? cause),
    type: 'ChunkFailed',
    nonRetryable: true,
  });
}
