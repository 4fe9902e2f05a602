import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { addUsage, emptyUsage } from '../domain/batch-state';
import { GATEWAY_AUTH_FAILED } from '../domain/failures';
import { executeRequest, type RequestOutcome } from '../gateway/execute-request';
import { addTokens, tokensFromBody, ZERO_TOKENS, type TokenCounts } from '../gateway/usage';
import { formatEntry, journalRepairPrefix, parseJournal, type ResultKind } from '../results/journal';
import { errorLine, responseLine, tryParseJson } from '../results/result-line';
import { parseSegment, type SegmentRequest } from '../results/segment';
import type { ObjectAppender } from '../storage/object-store';
import { layout } from '../storage/layout';
import type { ChunkInput, Counts } from '../workflows/types';
import type { ActivityRuntime } from './runtime';

interface SegmentState {
  index: number;
  remaining: number;
  counts: Counts;
  journalKey: string;
  repair: string;
  appender: Promise<ObjectAppender> | null;
}

interface Job {
  seg: SegmentState;
  req: SegmentRequest;
}

const zeroCounts = (): Counts => ({ completed: 0, failed: 0, usage: emptyUsage() });

function addCounts(into: Counts, kind: ResultKind, tokens: TokenCounts): void {
  if (kind === 'o') into.completed++;
  else into.failed++;
  addTokens(into.usage, tokens);
}

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
  const { store, config } = rt;
  const total = zeroCounts();
  const jobs: Job[] = [];
  const segments: SegmentState[] = [];

  for (let s = input.fromSegment; s < input.toSegment; s++) {
    const done = await store.get(layout.segmentDone(input.tenant, input.batchId, input.modelIndex, s));
    if (done) {
      const c = JSON.parse(done.toString('utf8')) as Counts;
      total.completed += c.completed;
      total.failed += c.failed;
      addUsage(total.usage, c.usage);
      continue;
    }
    const text = await store.get(layout.segment(input.tenant, input.batchId, input.modelIndex, s));
    if (!text) throw new Error(`segment ${input.modelIndex}/${s} of ${input.batchId} is missing`);
    const journalKey = layout.journal(input.tenant, input.batchId, input.modelIndex, s);
    const journalText = (await store.get(journalKey))?.toString('utf8') ?? '';
    const finished = parseJournal(journalText);
    const requests = parseSegment(text.toString('utf8'));
    const seg: SegmentState = {
      index: s,
      remaining: 0,
      counts: zeroCounts(),
      journalKey,
      repair: journalRepairPrefix(journalText),
      appender: null,
    };
    for (const req of requests) {
      const entry = finished.get(req.customIdJson);
      if (entry) addCounts(seg.counts, entry.kind, entry.tokens);
      else {
        jobs.push({ seg, req });
        seg.remaining++;
      }
    }
    segments.push(seg);
  }

  const markDone = async (seg: SegmentState) => {
    if (seg.appender) await (await seg.appender).close();
    await store.put(
      layout.segmentDone(input.tenant, input.batchId, input.modelIndex, seg.index),
      JSON.stringify(seg.counts),
    );
  };
  for (const seg of segments) if (seg.remaining === 0) await markDone(seg);

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
  const onCancel = () => stop.abort();
  ctx.cancellationSignal.addEventListener('abort', onCancel);
  let sent = 0;
  const heartbeat = setInterval(() => ctx.heartbeat({ sent }), 1000);
  ctx.heartbeat({ sent });

  const record = async (job: Job, kind: ResultKind, tokens: TokenCounts, line: string) => {
    const seg = job.seg;
    if (!seg.appender) {
      const repair = seg.repair;
      seg.appender = store.openAppender(seg.journalKey).then(async (a) => {
        if (repair) await a.append(repair);
        return a;
      });
    }
    await (await seg.appender).append(formatEntry(kind, job.req.customIdJson, tokens, line));
    addCounts(seg.counts, kind, tokens);
    if (--seg.remaining === 0) await markDone(seg);
  };

  const runOne = async (job: Job): Promise<void> => {
    const customId = JSON.parse(job.req.customIdJson) as string;
    const outcome: RequestOutcome = await executeRequest(rt.gateway, input.endpoint, job.req.body, {
      maxAttempts: config.MAX_ATTEMPTS,
      backoff: { baseMs: config.RETRY_BASE_MS, maxMs: config.RETRY_MAX_MS },
      headers: { 'x-batch-id': input.batchId, 'x-record-id': headerSafe(customId) },
      stop: stop.signal,
    });
    sent += outcome.attempts;
    if (outcome.kind === 'aborted') return;
    if (outcome.kind === 'transport_error') {
      await record(job, 'e', ZERO_TOKENS, errorLine(job.req.customIdJson, outcome.code, outcome.message));
      return;
    }
    const parsed = tryParseJson(outcome.text);
    const requestId = outcome.requestId ?? `req_${input.batchId}_${customId}`;
    const line = responseLine(job.req.customIdJson, outcome.status, requestId, outcome.text, parsed);
    if (outcome.statusClass === 'success') {
      await record(job, 'o', tokensFromBody(parsed), line);
      return;
    }
    // Halt before journaling: other lanes must not start a call while the append is awaited.
    if (outcome.statusClass === 'auth') halt(outcome.status);
    await record(job, 'e', ZERO_TOKENS, line);
  };

  const modelSlots = rt.limits.model(input.model);
  // Earlier deadlines first; within a batch, earlier chunks first (so work finishes in order).
  const priority = input.deadline * 1_000_000 + input.fromSegment;
  const globalSlots = rt.limits.global;
  const acquireBoth = async (): Promise<boolean> => {
    try {
      await modelSlots.acquire(priority, stop.signal);
    } catch {
      return false;
    }
    try {
      await globalSlots.acquire(priority, stop.signal);
      return true;
    } catch {
      modelSlots.release();
      return false;
    }
  };
  const releaseBoth = () => {
    globalSlots.release();
    modelSlots.release();
  };
  let nextJob = 0;
  // A lane holds one model slot and one global slot while it has work, and hands them over
  // only when work of an earlier priority is waiting: urgent batches overtake, and there is no
  // release/re-acquire churn otherwise.
  const lane = async (): Promise<void> => {
    if (!(await acquireBoth())) return;
    try {
      while (nextJob < jobs.length && !stop.signal.aborted && !halted()) {
        await runOne(jobs[nextJob++]);
        if (modelSlots.hasWaiterBefore(priority) || globalSlots.hasWaiterBefore(priority)) {
          releaseBoth();
          if (!(await acquireBoth())) return;
        }
      }
      releaseBoth();
    } catch (err) {
      releaseBoth();
      throw err;
    }
  };

  try {
    const lanes = Math.min(
      jobs.length,
      config.MODEL_CONCURRENCY_OVERRIDES[input.model] ?? config.MODEL_CONCURRENCY,
    );
    await Promise.all(Array.from({ length: lanes }, lane));
  } finally {
    clearInterval(heartbeat);
    ctx.cancellationSignal.removeEventListener('abort', onCancel);
    batchStops.delete(stop);
    if (batchStops.size === 0) rt.chunkStops.delete(input.batchId);
    for (const seg of segments) if (seg.remaining > 0 && seg.appender) await (await seg.appender).close();
  }

  const haltMessage = halted();
  if (haltMessage)
    throw ApplicationFailure.create({ message: haltMessage, type: GATEWAY_AUTH_FAILED, nonRetryable: true });
  if (ctx.cancellationSignal.aborted)
    throw new CancelledFailure('chunk cancelled; in-flight requests finished');

  for (const seg of segments) {
    total.completed += seg.counts.completed;
    total.failed += seg.counts.failed;
    addUsage(total.usage, seg.counts.usage);
  }
  return total;
}
