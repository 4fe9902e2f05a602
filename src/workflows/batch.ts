import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  executeChild,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  proxyActivities,
  proxySinks,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import type { BatchResult, StartBatchInput } from '../contract/start-batch';
import type { Batch, BatchError, BatchStatus, RequestCounts } from '../domain/batch';
import { addGovernance, addQuality, addUsage, isTerminal, liveFields, newBatch } from '../domain/batch-state';
import { zeroCounts } from '../domain/counts';
import { BATCH_ERROR_CODES, BUDGET_EXCEEDED, GATEWAY_AUTH_FAILED } from '../domain/failures';
import { stateEvent, type BatchEventSinks } from '../observability/batch-events';
import {
  BATCH_STATUS_SA,
  cancelSignal,
  cancelUpdate,
  getBatchQuery,
  NOT_PAUSABLE,
  NOT_RESUMABLE,
  PAUSE_RESUME,
  pauseSignal,
  pauseUpdate,
  progressSignal,
  resumeSignal,
  resumeUpdate,
  stopSignal,
  type StopReason as ChildStopReason,
} from './definitions';
import { isApiInput, startDirect, withStorageRefs } from './direct-start';
import { modelShardWorkflow } from './model-shard';
import { startWebhookDelivery } from './webhook-delivery';
import type {
  BatchWorkflowInput,
  FinalizeResult,
  IngestResult,
  MissingCode,
  ModelPlan,
  ModelShardInput,
} from './types';

const { ingest } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});
const { finalize, saveSnapshot } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});
// Each status change is told to the worker (a log line and metrics): a sink call is not a command.
const { batchEvents } = proxySinks<BatchEventSinks>();

/** Per-model child workflows running at once for one batch (bounded fan-out). */
const PARALLEL_MODELS = 16;
/** The fan-out of batches started before STOP_BY_SIGNAL (changing it would break their replay). */
const PARALLEL_MODELS_V1 = 8;

/** Why a batch stops early: a cancel request, its completion window, or its token budget. */
type StopReason = 'cancelled' | 'expired' | 'budget';

/*
 * Versioning (README, "Changing workflow code"): a change that alters the commands a workflow
 * emits is guarded by `patched(id)`, so batches that started on older code replay unchanged.
 */
/** Children are stopped by a signal to their current run, not by cancelling their first run. */
const STOP_BY_SIGNAL = 'stop-by-signal';
/** Status and counts are kept in the memo, so reads and lists need no worker (and no query). */
const LIVE_MEMO = 'live-memo';
/** A finalize that fails for good (data inconsistent, storage unwritable) fails the batch visibly. */
const FINALIZE_FAILURE = 'finalize-failure';
/** Batches started before STOP_BY_SIGNAL also signal their children when they stop (see below). */
const V1_STOP_BY_SIGNAL = 'v1-stop-by-signal';
/** Pause and resume (PAUSE_RESUME = 'pause-resume', in definitions.ts: the children check it too). */

const MISSING_CODE: Record<StopReason | 'failed', MissingCode> = {
  cancelled: 'batch_cancelled',
  expired: 'batch_expired',
  budget: 'budget_exceeded',
  failed: 'batch_failed',
};

/**
 * One batch, end to end: validate and shard the input, fan out one child per model,
 * obey cancel and the completion window, then assemble the output and error files.
 * Only ids, counts and file references pass through history — never request or response bodies.
 */
export async function batchWorkflow(
  input: BatchWorkflowInput | StartBatchInput,
): Promise<Batch | BatchResult> {
  // The API's input, or the public contract (src/contract/start-batch.ts) of a start from Temporal.
  if (isApiInput(input)) return runBatch(input);
  const direct = await startDirect(input);
  return withStorageRefs(await runBatch(direct.input), direct.refs);
}

/** The batch itself, from the API's input (or a checked public input turned into it). */
async function runBatch(input: BatchWorkflowInput): Promise<Batch> {
  const batch = newBatch(input);
  // `settled`: finalize has begun, so the outcome is fixed and a late cancel changes nothing.
  const state: { stop: StopReason | null; settled: boolean } = { stop: null, settled: false };
  const now = () => Math.floor(Date.now() / 1000);
  // The memo's `live` fields follow the batch at most once per workflow task (signals coalesce).
  const memo = { kept: patched(LIVE_MEMO), dirty: false };
  const publish = () => {
    memo.dirty = memo.kept;
  };
  // The batch's models once its input is read (for the state-change events).
  let models: string[] = [];
  const tell = () =>
    batchEvents.stateChanged(stateEvent(batch, input.tenant, models, input.options?.createdAtMs, Date.now()));
  if (memo.kept) {
    // Not cancellable: a cancellation from the Web UI must not end the memo's upkeep.
    void CancellationScope.nonCancellable(async () => {
      for (;;) {
        await condition(() => memo.dirty);
        memo.dirty = false;
        upsertMemo({ live: liveFields(batch) });
      }
    });
    publish(); // from the first task on, reads never fall back to the creation-time Batch
  }
  const setStatus = (status: BatchStatus) => {
    batch.status = status;
    upsertSearchAttributes({ [BATCH_STATUS_SA.name]: [status] });
    publish();
    tell();
  };
  // The terminal state becomes visible only once the final snapshot is stored, in the workflow
  // task that completes the workflow: a batch read as terminal is closed, its files ready.
  const finish = async (status: BatchStatus, fields: Partial<Batch>): Promise<Batch> => {
    state.settled = true;
    const final: Batch = { ...batch, ...fields, status };
    if (!memo.kept) upsertSearchAttributes({ [BATCH_STATUS_SA.name]: [status] });
    try {
      await saveSnapshot(input.tenant, final);
    } catch {
      // Only a storage that refuses writes for good gets here: the snapshot serves reads after
      // retention, but the workflow's result and memo hold the final Batch too. Never fail on it.
    }
    Object.assign(batch, final);
    if (memo.kept) {
      upsertSearchAttributes({ [BATCH_STATUS_SA.name]: [status] });
      upsertMemo({ live: liveFields(batch) });
    }
    tell();
    // The event goes out from a detached child: the terminal status is not held up by the receiver.
    await startWebhookDelivery(input.tenant, batch, input.options?.webhookKey);
    return batch;
  };
  // Paused: children start no chunk and cancel their running ones until resumed. A stopping,
  // finalizing or terminal batch can be neither paused nor resumed (the updates' validators say so).
  const control = { paused: false };
  const pausable = () =>
    !state.stop && !state.settled && (batch.status === 'validating' || batch.status === 'in_progress');
  const setPaused = (paused: boolean) => {
    // A `pause` signal in the history of a batch from before pauses changed nothing: it still does not.
    if (!patched(PAUSE_RESUME) || !pausable() || control.paused === paused) return;
    control.paused = paused;
    batch.x_paused_at = paused ? now() : null;
    publish();
  };
  // A stopping batch is no longer paused: its children are told to stop instead.
  const unpause = () => {
    control.paused = false;
    batch.x_paused_at = null;
  };
  // Cancel and a used-up budget stop the batch the same way: drain, then finalize what is done.
  const requestStop = (reason: 'cancelled' | 'budget') => {
    if (state.stop || isTerminal(batch.status) || batch.status === 'finalizing') return;
    if (memo.kept && state.settled) return;
    state.stop = reason;
    unpause();
    if (reason === 'budget' && batch.x_budget) batch.x_budget.exceeded = true;
    batch.cancelling_at = now();
    setStatus('cancelling');
  };
  const requestCancel = () => requestStop('cancelled');
  const refuse = (type: string, verb: string) => () => {
    if (!pausable())
      throw ApplicationFailure.create({
        type,
        message: `Cannot ${verb} a batch with status '${batch.status}'.`,
      });
  };
  // Each model's live counts (the objects in batch.x_models), by plan index.
  const perModel = new Map<number, RequestCounts>();
  const overBudget = () => !!batch.x_budget && batch.usage.total_tokens >= batch.x_budget.max_tokens;

  setHandler(getBatchQuery, () => batch);
  setHandler(cancelSignal, requestCancel);
  setHandler(cancelUpdate, () => {
    requestCancel();
    return batch;
  });
  setHandler(pauseSignal, () => setPaused(true));
  setHandler(resumeSignal, () => setPaused(false));
  const pauseOrResume = (paused: boolean) => () => {
    setPaused(paused);
    return batch;
  };
  setHandler(pauseUpdate, pauseOrResume(true), { validator: refuse(NOT_PAUSABLE, 'pause') });
  setHandler(resumeUpdate, pauseOrResume(false), { validator: refuse(NOT_RESUMABLE, 'resume') });
  setHandler(progressSignal, (delta) => {
    batch.request_counts.completed += delta.completed;
    batch.request_counts.failed += delta.failed;
    addUsage(batch.usage, delta.usage);
    addGovernance(batch.x_governance, delta.governance);
    addQuality(batch.x_quality, delta.quality);
    // Deltas of children from before x_models carry no model: in the totals only.
    const model = delta.model === undefined ? undefined : perModel.get(delta.model);
    if (model) {
      model.completed += delta.completed;
      model.failed += delta.failed;
    }
    if (batch.x_budget) batch.x_budget.used_tokens = batch.usage.total_tokens;
    publish();
    if (overBudget()) requestStop('budget');
  });
  // A workflow cancellation (e.g. from the Temporal Web UI) is handled like the cancel signal:
  // the batch drains and ends `cancelled` with partial output rather than being torn down.
  CancellationScope.current().cancelRequested.catch(requestCancel);
  tell(); // validating

  return await CancellationScope.nonCancellable(async () => {
    // The completion window is a durable timer: it survives worker and server restarts.
    const expiry = new CancellationScope();
    expiry
      .run(() => sleep(Math.max(0, input.expiresAt * 1000 - Date.now())))
      .then(() => {
        state.stop ??= 'expired';
      })
      .catch(() => undefined);

    let plan: IngestResult;
    try {
      plan = await ingest({
        tenant: input.tenant,
        batchId: input.batchId,
        endpoint: input.endpoint,
        inputFileId: input.inputFileId,
      });
    } catch (err) {
      // Ingest ran out of retries: the batch fails visibly (status, search attribute, snapshot).
      expiry.cancel();
      unpause();
      const message = `validating the input failed: ${failureMessage(err)}`;
      const error = { code: BATCH_ERROR_CODES.internal, message, param: null, line: null };
      return finish('failed', { errors: { object: 'list', data: [error] }, failed_at: now() });
    }
    if (!plan.ok) {
      expiry.cancel();
      unpause();
      return finish('failed', { errors: { object: 'list', data: plan.errors }, failed_at: now() });
    }

    batch.request_counts.total = plan.total;
    batch.x_models = plan.models.map((m) => ({
      model: m.model,
      request_counts: { total: m.requests, completed: 0, failed: 0 },
    }));
    plan.models.forEach((m, i) => perModel.set(m.index, batch.x_models![i].request_counts));
    batch.model = plan.models.length === 1 ? plan.models[0].model : null;
    models = plan.models.map((m) => m.model);
    let failure: BatchError | null = null;
    if (!state.stop) {
      batch.in_progress_at = now();
      setStatus('in_progress');
      failure = await runModels(
        input,
        plan.models,
        plan.segmentsPerChunk,
        () => state.stop,
        requestStop,
        control,
      );
    }
    expiry.cancel();
    unpause();

    const stop = state.stop;
    state.settled = true;
    batch.finalizing_at = now();
    // A failing batch shows `finalizing` too (a cancel then answers 409); older batches did not.
    if (!stop && (!failure || memo.kept)) setStatus('finalizing');
    const failVisibly = patched(FINALIZE_FAILURE);
    const finalizing = finalize({
      tenant: input.tenant,
      batchId: input.batchId,
      models: plan.models.map((m) => ({ index: m.index, segments: m.segments, requests: m.requests })),
      missingCode: MISSING_CODE[stop ?? 'failed'],
      outputTtlSeconds: input.outputTtlSeconds,
    });
    let result: FinalizeResult;
    if (failVisibly) {
      try {
        result = await finalizing;
      } catch (err) {
        // Only a non-retryable failure gets here (finalize retries everything else): a batch whose
        // files cannot be assembled ends `failed` with the reason, with no output files.
        const message = `finalizing the batch failed: ${failureMessage(err)}`;
        const error = { code: BATCH_ERROR_CODES.internal, message, param: null, line: null };
        const data = failure ? [failure, error] : [error];
        return finish('failed', { errors: { object: 'list', data }, failed_at: now() });
      }
    } else {
      result = await finalizing;
    }
    batch.output_file_id = result.outputFileId;
    batch.error_file_id = result.errorFileId;
    batch.request_counts = { total: plan.total, completed: result.completed, failed: result.failed };
    settleModels(plan.models, perModel, result);
    batch.usage = result.usage;
    // Older finalize results (recorded histories) carry no governance: keep the live totals then.
    if (result.governance) batch.x_governance = result.governance;
    // No thresholds, no verdict: `passed` stays null (batch-state.ts).
    if (result.quality) {
      const { passed } = batch.x_quality;
      batch.x_quality = {
        ...batch.x_quality,
        ...result.quality,
        passed: passed === null ? null : result.quality.passed,
      };
    }
    if (batch.x_budget) batch.x_budget.used_tokens = result.usage.total_tokens;

    if (failure) return finish('failed', { errors: { object: 'list', data: [failure] }, failed_at: now() });
    if (stop === 'cancelled' || stop === 'budget') return finish('cancelled', { cancelled_at: now() });
    if (stop === 'expired') return finish('expired', { expired_at: now() });
    return finish('completed', { completed_at: now() });
  });
}

/**
 * Runs one child per model, at most PARALLEL_MODELS at once. Returns when every child is
 * done or — after a stop request or a child failure — once the others have drained.
 */
async function runModels(
  input: BatchWorkflowInput,
  models: ModelPlan[],
  segmentsPerChunk: number,
  stopped: () => StopReason | null,
  requestStop: (reason: 'cancelled' | 'budget') => void,
  control: { paused: boolean },
): Promise<BatchError | null> {
  const budgetUsedUp = () => requestStop('budget');
  const childInput = (plan: ModelPlan) => ({
    workflowId: `${input.batchId}-model-${plan.index}`,
    // Shown in the Web UI's list of the batch's children (user metadata, not part of any command).
    staticSummary: `${plan.model}: ${plan.requests} requests`,
    args: [
      {
        tenant: input.tenant,
        batchId: input.batchId,
        parentWorkflowId: workflowInfo().workflowId,
        endpoint: input.endpoint,
        plan,
        segmentsPerChunk,
        deadline: input.expiresAt,
        cursor: 0,
        totals: zeroCounts(),
        options: input.options,
        // A child started while the batch is paused starts paused (absent otherwise: inputs as before).
        ...(control.paused ? { paused: true } : {}),
      },
    ] as [ModelShardInput],
  });
  // Batches started before the stop signal existed stop their children by cancellation (replay).
  if (!patched(STOP_BY_SIGNAL)) return runModelsCancelling(models, childInput, stopped, budgetUsedUp);

  let failure: BatchError | null = null;
  let next = 0;
  // Children started and not yet ended, by workflow id; each is told to stop once.
  const running = new Set<string>();
  const told = new Set<string>();
  // The pause state each running child was last given, and the children a pause or resume signal
  // is on its way to (the next waits for it, so a child sees them in order).
  const given = new Map<string, boolean>();
  const giving = new Set<string>();
  const behind = (id: string) => !giving.has(id) && (given.get(id) ?? false) !== control.paused;
  const tellPause = (id: string) => {
    if (reason() || !behind(id)) return;
    const paused = control.paused;
    given.set(id, paused);
    giving.add(id);
    CancellationScope.nonCancellable(() =>
      getExternalWorkflowHandle(id).signal(paused ? pauseSignal : resumeSignal),
    )
      .catch(() => undefined)
      .finally(() => giving.delete(id));
  };
  const reason = (): ChildStopReason | null => stopped() ?? (failure ? 'failed' : null);
  const tellStop = (id: string) => {
    const why = reason();
    if (!why || told.has(id)) return;
    told.add(id);
    signalStop(id, why);
  };
  const lane = async (): Promise<void> => {
    while (next < models.length && !reason()) {
      const { workflowId, staticSummary, args } = childInput(models[next++]);
      given.set(workflowId, args[0].paused === true);
      try {
        const child = await startChild(modelShardWorkflow, { workflowId, staticSummary, args });
        running.add(workflowId);
        tellStop(workflowId); // a stop that came while the child was starting
        await child.result();
      } catch (err) {
        // A worker saw the token budget used up: the batch stops like a cancel, it does not fail.
        if (failureType(err) === BUDGET_EXCEEDED) budgetUsedUp();
        // Once the batch is stopping, a child's end is part of the stop, whatever it was.
        else if (stopped()) continue;
        // A child cancelled on its own (e.g. from the Web UI) cancels the batch, it does not fail it.
        else if (isCancellation(err)) requestStop('cancelled');
        else failure ??= toBatchError(err);
      } finally {
        running.delete(workflowId);
        given.delete(workflowId);
      }
    }
  };
  let done = false;
  const all = Promise.all(
    Array.from({ length: Math.min(PARALLEL_MODELS, models.length) }, () => lane()),
  ).finally(() => {
    done = true;
  });
  for (;;) {
    await condition(
      () =>
        done ||
        (reason() !== null && [...running].some((id) => !told.has(id))) ||
        (reason() === null && [...running].some(behind)),
    );
    if (done) break;
    for (const id of running) tellStop(id);
    for (const id of running) tellPause(id);
  }
  await all;
  return failure;
}

/** How batches started before STOP_BY_SIGNAL ran their children: a stop cancels the child scope. */
async function runModelsCancelling(
  models: ModelPlan[],
  childInput: (plan: ModelPlan) => { workflowId: string; args: [ModelShardInput] },
  stopped: () => StopReason | null,
  budgetUsedUp: () => void,
): Promise<BatchError | null> {
  const scope = new CancellationScope();
  let failure: BatchError | null = null;
  let done = false;
  let next = 0;
  const running = new Set<string>();
  const lane = async (): Promise<void> => {
    while (next < models.length && !stopped() && !failure) {
      const plan = models[next++];
      const child = childInput(plan);
      running.add(child.workflowId);
      try {
        await executeChild(modelShardWorkflow, child);
      } catch (err) {
        if (isCancellation(err) && scope.consideredCancelled) return;
        // A worker saw the token budget used up: the batch stops like a cancel, it does not fail.
        if (failureType(err) === BUDGET_EXCEEDED) budgetUsedUp();
        else failure ??= toBatchError(err);
      } finally {
        running.delete(child.workflowId);
      }
    }
  };
  const all = Promise.all(
    Array.from({ length: Math.min(PARALLEL_MODELS_V1, models.length) }, () => scope.run(lane)),
  ).finally(() => {
    done = true;
  });
  await condition(() => done || stopped() !== null || failure !== null);
  if (!done) {
    // The cancellation reaches each child's first run only; a child that has continued as new
    // (running the current code, which has the stop handler) gets the stop signal as well.
    if (patched(V1_STOP_BY_SIGNAL)) {
      const why: ChildStopReason = stopped() ?? 'failed';
      for (const id of running) signalStop(id, why);
    }
    scope.cancel();
    await all.catch(() => undefined);
  }
  return failure;
}

/**
 * The per-model counts at the end, consistent with the batch's: from finalize's per-model tally, or
 * (a finalize result recorded before it had one) the live counts, every line not counted failed.
 */
function settleModels(
  models: ModelPlan[],
  perModel: Map<number, RequestCounts>,
  result: FinalizeResult,
): void {
  const tally = new Map((result.models ?? []).map((m) => [m.index, m]));
  for (const plan of models) {
    const counts = perModel.get(plan.index);
    if (!counts) continue;
    const final = tally.get(plan.index);
    counts.completed = final ? final.completed : Math.min(counts.completed, plan.requests);
    counts.failed = final ? final.failed : plan.requests - counts.completed;
  }
}

/**
 * Tells a child to stop, by workflow id and no run id: the signal reaches the run that is current
 * now, whatever continue-as-new did. A child that has just ended makes the signal fail: fine.
 */
function signalStop(workflowId: string, why: ChildStopReason): void {
  CancellationScope.nonCancellable(() => getExternalWorkflowHandle(workflowId).signal(stopSignal, why)).catch(
    () => undefined,
  );
}

/** The type of the application failure under a child's failure, if any. */
function failureType(err: unknown): string | undefined {
  const cause = rootCause(err);
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The failure under a child's failure (what the child's activity threw). */
function rootCause(err: unknown): unknown {
  let cause: unknown = err;
  while (cause instanceof ChildWorkflowFailure && cause.cause) cause = cause.cause;
  return cause;
}

/** The message of the failure under an activity's or a child's failure. */
function failureMessage(err: unknown): string {
  let cause: unknown = err;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Names the batch error after the failure that stopped a child (gateway auth, or anything else). */
function toBatchError(err: unknown): BatchError {
  const cause = rootCause(err);
  if (cause instanceof ApplicationFailure && cause.type === GATEWAY_AUTH_FAILED) {
    return { code: BATCH_ERROR_CODES.gatewayAuthFailed, message: cause.message, param: null, line: null };
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return {
    code: BATCH_ERROR_CODES.internal,
    message: `batch processing failed: ${message}`,
    param: null,
    line: null,
  };
}
