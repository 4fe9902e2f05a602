import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { BUDGET_EXCEEDED, GATEWAY_AUTH_FAILED } from '../../domain/failures';
import { budgetMeter } from '../../governance/budget';
import { ResponseCache } from '../../governance/response-cache';
import { executeRequest } from '../../gateway/execute-request';
import { loadOutputChecks } from '../../governance/output-checks';
import { modelMetrics, observeFirstUpstreamCall } from '../../observability/metrics-worker';
import { loadPassthroughHeaders } from '../../security/passthrough-headers';
import { secretBoxFor } from '../../security/secret-box';
import type { ChunkInput, Counts } from '../../workflows/types';
import { AttemptLog } from './attempt-log';
import { ChunkJournal, type Job } from './chunk-journal';
import { LaneSlots } from './lane-slots';
import { settleResult, type SettleContext } from './settle-result';
import type { ActivityRuntime } from '../runtime';

/** Header values must be visible ASCII; anything else is percent-encoded. */
const headerSafe = (v: string): string => (/^[\x20-\x7e]*$/.test(v) ? v : encodeURIComponent(v));

/**
 * Sends one chunk's requests to the gateway within the worker's global and per-model caps,
 * appending each result to its segment's journal as it finishes. Idempotent and resumable:
 * finished segments are skipped, and requests already in a journal are never sent again.
 * On cancellation it stops starting requests, lets in-flight ones finish, and reports cancelled.
 */
export async function processChunk(rt: ActivityRuntime, input: ChunkInput): Promise<Counts> {
  const ctx = Context.current();
  const { config } = rt;
  const journal = await ChunkJournal.load(rt.store, input);
  const jobs = journal.jobs;
  const settle: SettleContext = {
    batchId: input.batchId,
    flagRule: { header: config.GOVERNANCE_FLAG_HEADER, field: config.GOVERNANCE_FLAG_FIELD },
    checks: await loadOutputChecks(rt, input.options, input.endpoint),
  };

  // Client headers captured at creation (sealed in storage), sent with every call of the batch.
  const passthrough = await loadPassthroughHeaders(rt.store, secretBoxFor(config), input.options?.headersKey);

  const idempotencyHeader = config.UPSTREAM_IDEMPOTENCY_HEADER.toLowerCase();
  const halted = () => rt.halted.get(input.batchId);
  const stop = new AbortController();
  // Registered per batch so that a refusal seen by any chunk also stops this one at once, including
  // requests waiting out a retry delay (otherwise they would call the gateway again after the halt).
  let batchStops = rt.chunkStops.get(input.batchId);
  if (!batchStops) {
    batchStops = new Set();
    rt.chunkStops.set(input.batchId, batchStops);
  }
  batchStops.add(stop);
  const halt = (status: number) => {
    if (halted()) return;
    rt.halted.set(
      input.batchId,
      `The gateway refused the batch's credentials (HTTP ${status}); the batch was halted.`,
    );
    for (const s of rt.chunkStops.get(input.batchId) ?? []) s.abort();
  };
  // Per-model series, made once: each attempt is a lookup and an increment (metrics-worker.ts).
  const upstream = modelMetrics(input.model);
  // The batch's first upstream call is its first model's first chunk's (a retried chunk does not count).
  let firstCallOf =
    input.modelIndex === 0 && input.fromSegment === 0 && ctx.info.attempt === 1
      ? (input.options?.createdAtMs ?? null)
      : null;
  const onCancel = () => stop.abort();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  let sent = 0;
  // The segment range tells the API which records are in flight (GET /v1/batches/{id}/requests/…).
  const progress = () => ({ sent, from: input.fromSegment, to: input.toSegment });
  const heartbeat = setInterval(() => ctx.heartbeat(progress()), 1000);
  ctx.heartbeat(progress());

  const responseCache =
    config.RESPONSE_CACHE_TTL_S > 0
      ? new ResponseCache(rt.store, config.RESPONSE_CACHE_TTL_S, [
          'x-request-id',
          config.GOVERNANCE_FLAG_HEADER.toLowerCase(),
        ])
      : null;
  const runOne = async (job: Job, slots: LaneSlots): Promise<void> => {
    const customId = JSON.parse(job.req.customIdJson) as string;
    // Rate limits (requests, estimated tokens) are taken right before sending; null: stopped meanwhile.
    const cached = responseCache ? await responseCache.get(input.tenant, input.endpoint, job.req.body) : null;
    if (cached) {
      const hit = settleResult(settle, job.req.customIdJson, job.req.body, cached, true);
      void journal.record(job, hit.kind, hit.tokens, hit.tags, hit.line);
      return;
    }
    const charged = slots.unrated ? 0 : await slots.admit(job.req.body);
    if (charged === null) return;
    const attempts = new AttemptLog(journal, job);
    if (firstCallOf !== null) {
      observeFirstUpstreamCall(firstCallOf);
      firstCallOf = null;
    }
    const outcome = await executeRequest(rt.gateway, input.endpoint, job.req.body, {
      maxAttempts: config.MAX_ATTEMPTS,
      maxElapsedMs: config.MAX_REQUEST_ELAPSED_MS,
      backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
      headers: {
        ...passthrough,
        'x-batch-id': input.batchId,
        'x-record-id': headerSafe(customId),
        // Stable across retries and restarts, so the gateway can drop a repeat (UPSTREAM_IDEMPOTENCY_HEADER).
        ...(idempotencyHeader ? { [idempotencyHeader]: `${input.batchId}:${headerSafe(customId)}` } : {}),
      },
      // The gateway client sends it as GATEWAY_TENANT_HEADER, over any passed-through value.
      tenant: input.tenant,
      stop: stop.signal,
      onAttempt: slots.onAttempt,
      retryWait: slots.retryWait,
      observer: upstream,
      trace: { model: input.model, batchId: input.batchId },
      onAttemptDone: attempts.onAttemptDone,
    });
    sent += outcome.attempts;
    if (outcome.kind === 'aborted') return;
    const result = settleResult(settle, job.req.customIdJson, job.req.body, outcome);
    upstream.tokens(result.tokens);
    slots.settle(charged, outcome, result.tokens);
    // Halt before journaling: no lane may start another call once the gateway refused the credentials.
    if (result.auth) halt(outcome.kind === 'response' ? outcome.status : 401);
    const written = journal.record(
      job,
      result.kind,
      result.tokens,
      result.tags,
      result.line,
      attempts.unwritten(),
    );
    // After the journal: the answer is safe first; the cross-batch cache is best-effort.
    if (responseCache && outcome.kind === 'response' && result.kind === 'o') {
      await written;
      if (!journal.failed)
        await responseCache.put(input.tenant, input.endpoint, job.req.body, outcome).catch(() => undefined);
    }
    const maxTokens = input.options?.maxTokens;
    if (
      maxTokens &&
      budgetMeter.add(input.batchId, result.tokens.input + result.tokens.output) >= maxTokens
    ) {
      // Budget used up: no chunk of this batch in this process starts another request.
      for (const s of rt.chunkStops.get(input.batchId) ?? []) s.abort();
    }
  };

  // The tenant's place in the model's and the global slots, shared between tenants by weight.
  const capacity = rt.limits.join(input.tenant, input.model, input.options?.tenantShare);
  upstream.capacity = capacity.model;
  // Every lane may wait on the stop signal at once (slots, rate limits, retry delays): no leak.
  setMaxListeners(0, stop.signal);
  // Within the tenant, earlier deadlines first; within a batch, earlier chunks first (so work
  // finishes in order). Across tenants, weighted fair shares decide (FairShareSemaphore).
  const priority = input.deadline * 1_000_000 + input.fromSegment;
  let nextJob = 0;
  // A lane holds its tenant's cap slot, one model slot and one global slot while it has work, and
  // hands them over only when its tenant's work of an earlier priority is waiting, another tenant is
  // owed the slot, or a limit was cut: urgent batches of the tenant overtake, tenants converge to
  // their shares, and there is no release/re-acquire churn otherwise (see LaneSlots).
  // The first lane to fail stops the others, and the chunk fails only once all have stopped:
  // no lane may go on calling the gateway after the activity has failed (and is being retried).
  const failed: { error: Error | null } = { error: null };
  // A result that cannot be journaled (a full disk) stops the chunk as a failed lane would.
  journal.onWriteError = (err) => {
    failed.error ??= err;
    stop.abort();
  };
  const lane = async (): Promise<void> => {
    const slots = new LaneSlots(capacity, priority, stop.signal);
    try {
      if (!(await slots.acquire())) return;
      while (nextJob < jobs.length && !stop.signal.aborted && !halted()) {
        await runOne(jobs[nextJob++], slots);
        if (!slots.keeps() && !(await slots.handOver())) return;
      }
    } catch (err) {
      failed.error ??= err instanceof Error ? err : new Error(String(err));
      stop.abort();
    } finally {
      slots.release();
    }
  };

  // A chunk started after this worker saw the budget used up sends nothing.
  if (budgetMeter.exhausted(input.batchId, input.options?.maxTokens)) stop.abort();
  try {
    // The deployment's cap, not this worker's share of it: the share may grow while the chunk runs.
    const lanes = Math.min(jobs.length, capacity.model.clusterCap, capacity.tenantCap.limit);
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    capacity.leave();
    clearInterval(heartbeat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    batchStops.delete(stop);
    if (batchStops.size === 0) rt.chunkStops.delete(input.batchId);
    // Every result written before the chunk answers, whichever way it ends.
    await journal.settled().catch((err: unknown) => {
      failed.error ??= err instanceof Error ? err : new Error(String(err));
    });
    await journal.close();
  }

  if (failed.error) throw failed.error;
  const haltMessage = halted();
  if (haltMessage)
    throw ApplicationFailure.create({ message: haltMessage, type: GATEWAY_AUTH_FAILED, nonRetryable: true });
  if (ctx.cancellationSignal.aborted)
    throw new CancelledFailure('chunk cancelled; in-flight requests finished');
  if (!journal.complete() && budgetMeter.exhausted(input.batchId, input.options?.maxTokens)) {
    throw ApplicationFailure.create({
      message: `The batch's token budget of ${input.options?.maxTokens} tokens is used up.`,
      type: BUDGET_EXCEEDED,
      nonRetryable: true,
    });
  }
  return journal.totals();
}
