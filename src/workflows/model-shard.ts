import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { addCounts, zeroCounts } from '../domain/counts';
import { BUDGET_EXCEEDED, GATEWAY_AUTH_FAILED } from '../domain/failures';
import {
  PAUSE_RESUME,
  pauseSignal,
  progressSignal,
  resumeSignal,
  stopSignal,
  type StopReason,
} from './definitions';
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
  // Chunks run in a scope that a pause cancels and replaces (a cancelled scope cannot be reused);
  // `paused` marks the chunks it cancelled, which are re-run after resume.
  const root = CancellationScope.current();
  const newLot = () => ({ scope: new CancellationScope({ cancellable: true, parent: root }), paused: false });
  let chunks = newLot();
  const inflight = new Map<number, Promise<void>>();
  let next = input.cursor;
  // Chunks a pause cancelled, by first segment, to run again before any new one (lowest first).
  const rerun = [...(input.rerun ?? [])];
  const pause = { paused: input.paused === true };
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
    if (inflight.size > 0) chunks.scope.cancel();
  });
  // Paused: start no chunk and cancel the running ones (their in-flight requests finish and are
  // journaled); resumed: run the cancelled ones again, then go on. A re-run chunk skips what its
  // journal holds, so nothing is sent twice. Histories from before pause existed never reach here.
  setHandler(pauseSignal, () => {
    if (!patched(PAUSE_RESUME) || pause.paused || outcome.stop) return;
    pause.paused = true;
    if (inflight.size === 0) return;
    chunks.paused = true;
    chunks.scope.cancel();
    chunks = newLot();
  });
  setHandler(resumeSignal, () => {
    if (!patched(PAUSE_RESUME)) return;
    pause.paused = false;
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
    // The model's index lets the parent keep per-model counts (x_models); a payload, not a command.
    progress.sending = CancellationScope.nonCancellable(() =>
      parent.signal(progressSignal, { ...delta, model: plan.index }),
    )
      .catch(() => undefined)
      .then(() => {
        progress.sending = null;
      });
  };

  const startChunk = (from: number): void => {
    const to = Math.min(from + segmentsPerChunk, plan.segments);
    const lot = chunks;
    // The Web UI shows it on the activity (user metadata, not part of the command).
    const summary = `${plan.model}: segments ${from}–${to - 1} of ${plan.segments}`;
    const run = lot.scope
      .run(() =>
        processChunk.executeWithOptions({ summary }, [
          {
            tenant: input.tenant,
            batchId: input.batchId,
            endpoint: input.endpoint,
            modelIndex: plan.index,
            model: plan.model,
            fromSegment: from,
            toSegment: to,
            deadline: input.deadline,
            options: input.options,
          },
        ]),
      )
      .then((counts) => {
        addCounts(totals, counts);
        addCounts(progress.pending, counts);
      })
      .catch((err: unknown) => {
        // Cancelled by a pause (or its worker died meanwhile): run again after resume.
        if (lot.paused && !stopping() && !isFatal(err)) requeue(from);
        else if (isCancellation(err) || stopping()) outcome.cancelled = true;
        else outcome.failure ??= asApplicationFailure(err);
      })
      // Only its own entry: a chunk re-run after a pause may already hold this key again.
      .finally(() => {
        if (inflight.get(from) === run) inflight.delete(from);
      });
    inflight.set(from, run);
  };

  const requeue = (from: number): void => {
    rerun.push(from);
    rerun.sort((a, b) => a - b);
  };

  const stopped = () => outcome.cancelled || outcome.failure !== null || stopping();
  const hasWork = () => rerun.length > 0 || next < plan.segments;

  while (inflight.size > 0 || (hasWork() && !draining && !stopped())) {
    while (!draining && !stopped() && !pause.paused && hasWork() && inflight.size < plan.window) {
      const from = rerun.shift();
      if (from !== undefined) startChunk(from);
      else {
        startChunk(next);
        next += segmentsPerChunk;
      }
      started++;
    }
    // Nothing runs only while paused: wait for the resume or a stop — or continue as new, paused,
    // once signals (a long pause, many of them) have made the history long.
    if (inflight.size > 0) await Promise.race(inflight.values());
    else await condition(() => !pause.paused || stopped() || workflowInfo().continueAsNewSuggested);
    flush();
    if (outcome.failure && inflight.size > 0) chunks.scope.cancel();
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
  if (hasWork()) {
    // A pause and the chunks it cancelled carry over (only when there are any: inputs stay as before).
    const { paused: _paused, rerun: _rerun, ...base } = input;
    const carried = { ...(pause.paused ? { paused: true } : {}), ...(rerun.length > 0 ? { rerun } : {}) };
    return await continueAsNew<typeof modelShardWorkflow>({ ...base, cursor: next, totals, ...carried });
  }
  return totals;
}

/** Failures a re-run cannot mend: the gateway refused the credentials, or the budget is used up. */
function isFatal(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return (
    cause instanceof ApplicationFailure &&
    (cause.type === GATEWAY_AUTH_FAILED || cause.type === BUDGET_EXCEEDED)
  );
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
