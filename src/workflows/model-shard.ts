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
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import { addUsage, emptyUsage } from '../domain/batch-state';
import { GATEWAY_AUTH_FAILED } from '../domain/failures';
import { progressSignal } from './definitions';
import type { Counts, ModelShardInput } from './types';

const { processChunk } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '4 hours',
  // Chunks heartbeat every ~2 s: a dead worker is noticed quickly and cancellation reaches them.
  heartbeatTimeout: '20 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [GATEWAY_AUTH_FAILED],
  },
});

/** Chunks per run before continuing as new, so history stays bounded at any shard size. */
const MAX_CHUNKS_PER_RUN = 500;

const zero = (): Counts => ({ completed: 0, failed: 0, usage: emptyUsage() });

function add(into: Counts, c: Counts): void {
  into.completed += c.completed;
  into.failed += c.failed;
  addUsage(into.usage, c.usage);
}

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
  let cancelled = false;
  let failure: ApplicationFailure | null = null;

  // Progress deltas are coalesced: at most one signal in flight, the next carries what piled up.
  let pending = zero();
  let sending: Promise<void> | null = null;
  const flush = (): void => {
    if (sending || (pending.completed === 0 && pending.failed === 0)) return;
    const delta = pending;
    pending = zero();
    sending = CancellationScope.nonCancellable(() => parent.signal(progressSignal, delta))
      .catch(() => undefined)
      .then(() => {
        sending = null;
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
        }),
      )
      .then((counts) => {
        add(totals, counts);
        add(pending, counts);
      })
      .catch((err: unknown) => {
        if (isCancellation(err)) cancelled = true;
        else failure ??= asApplicationFailure(err);
      })
      .finally(() => inflight.delete(from));
    inflight.set(from, run);
  };

  const stopped = () => cancelled || failure !== null || CancellationScope.current().consideredCancelled;

  while (inflight.size > 0 || (next < plan.segments && !draining && !stopped())) {
    while (!draining && !stopped() && next < plan.segments && inflight.size < plan.window) {
      startChunk(next);
      next += segmentsPerChunk;
      started++;
    }
    await Promise.race(inflight.values());
    flush();
    if (failure && inflight.size > 0) chunks.cancel();
    if (!draining && (started >= MAX_CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested)) draining = true;
  }

  // Deliver the last progress before leaving, whatever the reason.
  await CancellationScope.nonCancellable(async () => {
    while (sending) await sending;
    flush();
    while (sending) await sending;
  });

  if (failure) throw failure;
  if (cancelled || CancellationScope.current().consideredCancelled) {
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
  return ApplicationFailure.create({ message: String((cause as Error)?.message ?? cause), type: 'ChunkFailed', nonRetryable: true });
}
