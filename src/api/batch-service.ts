import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { defaultPayloadConverter, TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Batch } from '../domain/batch';
import { Batch as BatchSchema, BatchStatus as BatchStatusSchema } from '../domain/batch';
import {
  batchFromMemo,
  isTerminal,
  liveFields,
  newBatch,
  type BatchOptions,
  type LiveBatchFields,
} from '../domain/batch-state';
import { idempotentBatchId, isBatchId, newCreationSeq } from '../ids';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import { listReplays, mayHaveReplays } from '../storage/replay-links';
import {
  BATCH_CREATED_AT_SA,
  BATCH_CREATED_SEQ_SA,
  BATCH_ID_SA,
  BATCH_STATUS_SA,
  BATCH_TENANT_SA,
  BATCH_WORKFLOW_TYPE,
  cancelSignal,
  cancelUpdate,
  getBatchQuery,
  pauseSignal,
  pauseUpdate,
  resumeSignal,
  resumeUpdate,
} from '../workflows/definitions';
import type { BatchWorkflowInput } from '../workflows/types';
import { KeyedLock } from './keyed-lock';

/** How long a cancel waits for a worker to answer the update before it falls back to the signal. */
const CANCEL_UPDATE_S = 1;
/** temporal.api.enums.v1.PendingActivityState SCHEDULED (written out: no direct @temporalio/proto dependency). */
const PENDING_ACTIVITY_STATE_SCHEDULED = 1;
/** How long a read of a batch started before the live memo waits for its query. */
const LEGACY_QUERY_S = 1;

export type CancelResult =
  { kind: 'ok'; batch: Batch } | { kind: 'not_found' } | { kind: 'conflict'; batch: Batch };
/** A pause or resume: the Batch after it, or the batch that cannot be paused or resumed any more. */
export type PauseResult = CancelResult;

/** What a create with an Idempotency-Key led to. */
export type IdempotentResult =
  | { kind: 'created'; batch: Batch }
  /** The key was used within its lifetime with the same parameters: that batch. */
  | { kind: 'existing'; batch: Batch }
  /** The key was used within its lifetime with other parameters. */
  | { kind: 'mismatch'; batch: Batch };

/** A create's Idempotency-Key and the fingerprint of the parameters it came with. */
export interface IdempotencyKey {
  key: string;
  fingerprint: string;
}

type Info = Omit<WorkflowExecutionInfo, 'raw'>;

/** A batch as its workflow execution describes it, with what the API stored at start. */
interface Described {
  batch: Batch;
  fingerprint: string | null;
}

/** Memo keys: `batch` (set at start), `live` (kept by the workflow), `idempotency` (set at start). */
interface BatchMemo {
  batch?: unknown;
  live?: Partial<LiveBatchFields> | null;
  idempotency?: { fingerprint?: string } | null;
  options?: BatchOptions | null;
}

/**
 * A list page aims at this many candidates per wanted row, and fetches at most FETCH_CAP times as
 * many: visibility costs about the same per returned row whatever the memo, and a count is cheap.
 */
const AIM = 1.05;
const FETCH_CAP = 1.3;
/** Lookback of the first count when nothing is known about a tenant yet: one hour, in microseconds. */
const FIRST_WINDOW_US = 3600e6;

/**
 * The API's view of batches: starts, reads, lists and cancels batch workflows through Temporal.
 * Reads and cancel need no worker: a batch is read from its workflow's memo (kept current by the
 * workflow) through describe or list, and a cancel is a signal, which the server accepts even while
 * no worker runs and the workflow handles when one returns.
 */
export class BatchService {
  /**
   * Per tenant, what the last list window needed: for first pages its lower end (new batches only
   * add to it), for pages after a cursor its width (µs of creation order) back from the cursor.
   */
  private readonly windows = new Map<string, number>();
  /** Creates with an Idempotency-Key in flight in this process, by batch id: the second waits. */
  private readonly keyed = new KeyedLock();

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly store: ObjectStore,
    /** How long an Idempotency-Key answers with the batch it created (IDEMPOTENCY_KEY_TTL_S). */
    private readonly idempotencyTtlS = 86_400,
  ) {}

  /**
   * Starts a batch. `seq` is its creation order key (newCreationSeq), `Math.floor(seq / 1e6)` its
   * `created_at`; taken here when the caller has none.
   */
  async start(
    input: BatchWorkflowInput,
    opts: { seq?: number; idempotency?: IdempotencyKey } = {},
  ): Promise<Batch> {
    const seq = opts.seq ?? Math.max(newCreationSeq(), input.createdAt * 1e6);
    await this.client.workflow.start(BATCH_WORKFLOW_TYPE, {
      workflowId: input.batchId,
      taskQueue: this.taskQueue,
      // The creation time in ms travels with the options to the chunks (time to first upstream call).
      args: [{ ...input, options: { ...input.options, createdAtMs: Math.floor(seq / 1000) } }],
      // A batch id is never used for a second run (idempotent creates derive it from their key).
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: BATCH_STATUS_SA, value: 'validating' },
        { key: BATCH_ID_SA, value: input.batchId },
        { key: BATCH_TENANT_SA, value: input.tenant },
        { key: BATCH_CREATED_AT_SA, value: input.createdAt },
        { key: BATCH_CREATED_SEQ_SA, value: seq },
      ]),
      // `options` (references and small values only) lets a dead-letter replay reuse them.
      // `live` from the start: a batch no worker has touched yet reads like one that has started.
      memo: {
        batch: newBatch(input),
        live: liveFields(newBatch(input)),
        options: input.options ?? null,
        ...(opts.idempotency ? { idempotency: { fingerprint: opts.idempotency.fingerprint } } : {}),
      },
    });
    return newBatch(input);
  }

  /**
   * A create with an Idempotency-Key: the batch this tenant made with the key within the key's
   * lifetime, or a new one made by `build(batchId)` (which validates and may throw).
   *
   * The batch id is derived from (tenant, key, lifetime window), so a retry finds the workflow the
   * first attempt started even if the API died before answering; a second start of the same id is
   * refused by the server (REJECT_DUPLICATE), never run twice. A key's window is
   * `floor(now / ttl)`: a retry looks in the current and the previous window, and takes the batch
   * found there only while it is younger than the ttl, so a key reused after the ttl makes a new batch.
   */
  async startIdempotent(
    tenant: string,
    idem: IdempotencyKey,
    build: (batchId: string, seq: number) => Promise<BatchWorkflowInput>,
  ): Promise<IdempotentResult> {
    const nowS = Math.floor(Date.now() / 1000);
    const window = Math.floor(nowS / this.idempotencyTtlS);
    const previousId = idempotentBatchId(tenant, idem.key, window - 1);
    const batchId = idempotentBatchId(tenant, idem.key, window);
    // Concurrent creates with one key in this process run one after the other, so the second finds
    // the first's batch before writing anything under its id (options, captured headers).
    return this.keyed.run(batchId, async () => {
      const [previous, current] = await Promise.all([
        this.describe(tenant, previousId),
        this.describe(tenant, batchId),
      ]);
      if (previous && previous.batch.created_at > nowS - this.idempotencyTtlS)
        return matchOf(previous, idem.fingerprint);
      if (current) return matchOf(current, idem.fingerprint);
      const seq = newCreationSeq();
      const input = await build(batchId, seq);
      try {
        return { kind: 'created', batch: await this.start(input, { seq, idempotency: idem }) };
      } catch (err) {
        // Another API process started it first: answer with that batch.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const raced = await this.describe(tenant, batchId);
        if (!raced) throw err;
        return matchOf(raced, idem.fingerprint);
      }
    });
  }

  /** The batch as of its workflow's last memo update; the stored snapshot after retention. */
  async get(tenant: string, id: string): Promise<Batch | null> {
    const found = await this.describe(tenant, id);
    return found && this.withReplays(tenant, found.batch);
  }

  /** The governance options a batch was created with; null when unknown (e.g. past retention). */
  async creationOptions(tenant: string, id: string): Promise<BatchOptions | null> {
    const desc = await this.locate(tenant, id);
    return (desc?.memo as BatchMemo | undefined)?.options ?? null;
  }

  /**
   * Cancel by signal: accepted by the server whether or not a worker runs, handled by the
   * workflow when one does. Answers the batch in `cancelling` (OpenAI's answer to a cancel); a
   * batch already `finalizing` (its requests all done) or terminal cannot be cancelled.
   */
  async cancel(tenant: string, id: string): Promise<CancelResult> {
    const current = await this.get(tenant, id);
    if (!current) return { kind: 'not_found' };
    if (current.status === 'cancelled' || current.status === 'cancelling')
      return { kind: 'ok', batch: current };
    if (current.status === 'finalizing' || isTerminal(current.status))
      return { kind: 'conflict', batch: current };
    const execution = await this.locate(tenant, id);
    if (!execution) return { kind: 'conflict', batch: current }; // closed and past retention
    const handle = this.client.workflow.getHandle(execution.workflowId, execution.runId);
    // With a worker up, the update answers from the workflow itself, so a batch that moved on to
    // finalizing since our read gets its 409. Without one it cannot answer: the signal is accepted
    // by the server and takes effect when a worker returns.
    const answered = await this.withinSeconds(CANCEL_UPDATE_S, () => handle.executeUpdate(cancelUpdate));
    if (answered) {
      return answered.status === 'cancelling' || answered.status === 'cancelled'
        ? { kind: 'ok', batch: answered }
        : { kind: 'conflict', batch: answered };
    }
    try {
      await handle.signal(cancelSignal);
    } catch (err) {
      // The batch closed between our read and the signal: answer from its final state.
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      const after = await this.get(tenant, id);
      if (!after) return { kind: 'not_found' };
      return after.status === 'cancelled' ? { kind: 'ok', batch: after } : { kind: 'conflict', batch: after };
    }
    return {
      kind: 'ok',
      batch: { ...current, status: 'cancelling', cancelling_at: Math.floor(Date.now() / 1000) },
    };
  }

  /**
   * Pauses (`paused`) or resumes a batch, like cancel: the update answers from the workflow when a
   * worker is up (its validator refuses a batch that is stopping, finalizing or terminal), else the
   * signal is accepted by the server and takes effect when a worker returns. Both are idempotent:
   * pausing a paused batch keeps its `x_paused_at`, resuming a running one changes nothing.
   */
  async setPaused(tenant: string, id: string, paused: boolean): Promise<PauseResult> {
    const current = await this.get(tenant, id);
    if (!current) return { kind: 'not_found' };
    if (!mayPause(current.status)) return { kind: 'conflict', batch: current };
    const execution = await this.locate(tenant, id);
    if (!execution) return { kind: 'conflict', batch: current };
    const handle = this.client.workflow.getHandle(execution.workflowId, execution.runId);
    try {
      const answered = await this.client.connection.withDeadline(Date.now() + CANCEL_UPDATE_S * 1000, () =>
        handle.executeUpdate(paused ? pauseUpdate : resumeUpdate),
      );
      return { kind: 'ok', batch: answered };
    } catch (err) {
      // Refused by the workflow: the batch moved on (stopping, finalizing, ended) since our read.
      if (err instanceof WorkflowUpdateFailedError) return this.afterRefusal(tenant, id, current);
      // Otherwise no worker answered in time: the signal below.
    }
    try {
      await handle.signal(paused ? pauseSignal : resumeSignal);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      return this.afterRefusal(tenant, id, current);
    }
    const pausedAt = paused ? (current.x_paused_at ?? Math.floor(Date.now() / 1000)) : null;
    return { kind: 'ok', batch: { ...current, x_paused_at: pausedAt } };
  }

  /** A pause or resume the batch refused (or that came after it closed): answered from its state now. */
  private async afterRefusal(tenant: string, id: string, before: Batch): Promise<PauseResult> {
    const after = await this.get(tenant, id);
    if (!after) return { kind: 'not_found' };
    // Read a moment too early (a stop is not in the memo yet): the status it is leaving.
    return { kind: 'conflict', batch: mayPause(after.status) ? before : after };
  }

  /** `call`'s answer, or null when it failed or did not answer within `seconds` (e.g. no worker). */
  private async withinSeconds<T>(seconds: number, call: () => Promise<T>): Promise<T | null> {
    try {
      return await this.client.connection.withDeadline(Date.now() + seconds * 1000, call);
    } catch {
      return null;
    }
  }

  /**
   * Newest first (by BatchCreatedSeq, then id) with OpenAI's `after` cursor, from one visibility
   * list call: each batch comes from its memo, no query or describe per batch.
   *
   * Temporal's SQL visibility cannot ORDER BY, so the page is a window of creation order counted
   * first (cheap) and fetched once it holds enough rows, then sorted. The window is sized from the
   * count (assuming even density) and remembered per tenant, so a steady poller costs one count
   * and one fetch. New batches always sort before an `after` cursor, so paging is stable while
   * batches are being created.
   */
  async list(
    tenant: string,
    opts: { after?: string; limit: number },
  ): Promise<{ data: Batch[]; hasMore: boolean }> {
    let bound: { seq: number; id: string } | null = null;
    if (opts.after) {
      const cursor = await this.locate(tenant, opts.after);
      if (!cursor) return { data: [], hasMore: false };
      bound = { seq: orderKey(cursor), id: cursor.workflowId };
    }
    const base = `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND BatchTenant = '${escapeQuery(tenant)}'`;
    const hi = bound ? bound.seq : Number.MAX_SAFE_INTEGER;
    // Creation order keys lie in [lo, hi]. Batches without one (made by an API from before it, also
    // during a rolling upgrade) are placed at their second's start; the clause costs next to nothing.
    const inRange = (lo: number) => {
      const seq = `BatchCreatedSeq >= ${lo} AND BatchCreatedSeq <= ${hi}`;
      const secs = `BatchCreatedAt >= ${Math.floor(lo / 1e6)} AND BatchCreatedAt <= ${Math.floor(hi / 1e6)}`;
      return `${base} AND ((${seq}) OR (BatchCreatedSeq IS NULL AND ${secs}))`;
    };
    const before = (i: Info) => {
      if (!bound) return true;
      const k = orderKey(i);
      return k < bound.seq || (k === bound.seq && i.workflowId < bound.id);
    };
    // Windows reach back from the cursor, or from now (the first page has no upper bound, so a batch
    // stamped a little ahead by another API process's clock is in every window all the same).
    const top = bound ? bound.seq : Date.now() * 1000;
    const want = opts.limit + 1 + (bound ? 1 : 0); // the cursor itself is inside [lo, hi]

    const windowKey = `${bound ? 'after' : 'first'}:${tenant}`;
    const remembered = this.windows.get(windowKey);
    const start = remembered === undefined ? FIRST_WINDOW_US : bound ? remembered : top - remembered;
    let width = await this.windowFor(Math.max(1, start), top, want, inRange);
    for (let attempt = 0; ; attempt++) {
      // After a few widenings, the whole history: a page never ends early.
      const lo = attempt >= 6 ? 0 : top - width;
      const all = lo <= 0;
      const found: Info[] = [];
      const query = all ? inRange(0) : inRange(lo);
      for await (const wf of this.client.workflow.list({ query, pageSize: 1000 }))
        // The seconds clause for older batches reaches a little below `lo`: keep only the window.
        if (before(wf) && (all || orderKey(wf) >= lo) && memoBatchId(wf)) found.push(wf);
      // Fewer than a page although older batches may exist (counts are a moment old): look further.
      if (found.length <= opts.limit && !all) {
        width *= 4;
        continue;
      }
      this.windows.set(windowKey, bound ? Math.min(width, top) : Math.max(0, top - width));
      found.sort((a, b) => orderKey(b) - orderKey(a) || (a.workflowId < b.workflowId ? 1 : -1));
      const page = found.slice(0, opts.limit);
      const batches = await Promise.all(page.map((wf) => this.fromInfo(wf)));
      const replayed = await mayHaveReplays(
        this.store,
        tenant,
        batches.filter((b) => isTerminal(b.status)).map((b) => b.id),
      );
      const data = await Promise.all(
        batches.map((b) => (replayed.has(b.id) ? this.withReplays(tenant, b) : Promise.resolve(b))),
      );
      return { data, hasMore: found.length > opts.limit };
    }
  }

  /** The tenant's running batches (any status short of terminal), from one visibility count. */
  async countActive(tenant: string): Promise<number> {
    const query =
      `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND BatchTenant = '${escapeQuery(tenant)}' ` +
      `AND ExecutionStatus = 'Running'`;
    return (await this.client.workflow.count(query)).count;
  }

  /** Batches of every tenant with this status, from one visibility count (the batches-by-status metric). */
  async countByStatus(status: string): Promise<number> {
    const query = `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND ${BATCH_STATUS_SA.name} = '${escapeQuery(status)}'`;
    return (await this.client.workflow.count(query)).count;
  }

  /** Which of these batches (started by the API, so workflow id = batch id) visibility lists yet. */
  async visibleBatchIds(ids: string[]): Promise<Set<string>> {
    const seen = new Set<string>();
    const valid = ids.filter(isBatchId);
    if (valid.length === 0) return seen;
    const query = `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND WorkflowId IN (${valid.map((id) => `'${id}'`).join(', ')})`;
    for await (const wf of this.client.workflow.list({ query, pageSize: valid.length }))
      seen.add(wf.workflowId);
    return seen;
  }

  /**
   * The heartbeat details of the running activities of a workflow (its latest run), decoded; [] when
   * it is not running or unknown. The record view reads the segment ranges of a child's chunks here.
   * An activity waiting for its next attempt (after a crash or timeout) keeps its last details but
   * runs nothing: left out.
   */
  async pendingHeartbeats(workflowId: string): Promise<unknown[]> {
    try {
      const { raw } = await this.client.workflow.getHandle(workflowId).describe();
      return (raw.pendingActivities ?? []).flatMap((a) => {
        const first = a.heartbeatDetails?.payloads?.[0];
        if (!first || Number(a.state) === PENDING_ACTIVITY_STATE_SCHEDULED) return [];
        return [defaultPayloadConverter.fromPayload(first)];
      });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return [];
      throw err;
    }
  }

  async healthy(): Promise<boolean> {
    try {
      // A short deadline: a health probe must answer quickly, not wait out the client's retries.
      await this.client.connection.withDeadline(Date.now() + 2000, () =>
        this.client.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A window width (µs back from `top`) holding at least `want` batches, or reaching back to the
   * beginning: counted (not fetched) while it is too narrow or much too wide.
   */
  private async windowFor(
    start: number,
    top: number,
    want: number,
    inRange: (lo: number) => string,
  ): Promise<number> {
    const target = want * AIM;
    let width = Math.min(start, top);
    // The widest width known to hold too few, the narrowest known to hold too many, and their counts.
    let narrow = { width: 0, count: 0 };
    let wide: { width: number; count: number } | null = null;
    for (let i = 0; i < 8 && width < top; i++) {
      const { count } = await this.client.workflow.count(inRange(top - width));
      if (count >= want && count <= want * FETCH_CAP) return width;
      if (count < want) narrow = { width, count };
      else wide = { width, count };
      if (!wide) {
        // Only too narrow so far: widen in proportion (fast, from nothing), then bracket.
        width = count === 0 ? width * 16 : Math.ceil((width * target) / count);
        continue;
      }
      // Bracketed: interpolate on the counts, kept at least a tenth inside either end so every
      // step shrinks the bracket even where batches cluster.
      const span = wide.width - narrow.width;
      if (span <= 1) return wide.width;
      const at = narrow.width + (span * (target - narrow.count)) / (wide.count - narrow.count);
      width = Math.round(Math.min(Math.max(at, narrow.width + span / 10), wide.width - span / 10));
    }
    return Math.min(width, wide ? wide.width : top);
  }

  /** The batch under `id` if this tenant owns it: from describe, or the stored snapshot after retention. */
  private async describe(tenant: string, id: string): Promise<Described | null> {
    if (!isBatchId(id)) return null;
    const desc = await this.locate(tenant, id);
    if (!desc) {
      const stored = await this.snapshot(tenant, id);
      return stored && { batch: stored, fingerprint: null };
    }
    const memo = desc.memo as BatchMemo | undefined;
    return {
      batch: await this.fromInfo(desc, { queryLegacy: true }),
      fingerprint: memo?.idempotency?.fingerprint ?? null,
    };
  }

  /**
   * The workflow execution of this tenant's batch `id`, described; null when there is none (or it
   * is past retention). The API starts a batch under its batch id; a batch started from Temporal
   * runs under the starter's workflow id, recorded in storage by the workflow's first activity.
   */
  private async locate(tenant: string, id: string): Promise<Info | null> {
    if (!isBatchId(id)) return null;
    const execution = await this.describeExecution(id);
    if (execution && this.owns(execution, tenant) && memoBatchId(execution) === id) return execution;
    const raw = await this.store.get(layout.batchWorkflow(tenant, id));
    let direct: Info | null = null;
    if (raw) {
      const { workflowId, runId } = JSON.parse(raw.toString('utf8')) as {
        workflowId: string;
        runId?: string;
      };
      direct = await this.describeExecution(workflowId, runId);
    } else {
      // Not recorded in our storage (a worker writing elsewhere): the BatchId search attribute.
      const query = `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND BatchId = '${id}'`;
      for await (const wf of this.client.workflow.list({ query, pageSize: 10 })) {
        if (this.owns(wf, tenant) && memoBatchId(wf) === id)
          direct = await this.describeExecution(wf.workflowId, wf.runId);
        break;
      }
    }
    return direct && this.owns(direct, tenant) && memoBatchId(direct) === id ? direct : null;
  }

  private async describeExecution(workflowId: string, runId?: string): Promise<Info | null> {
    try {
      return await this.client.workflow.getHandle(workflowId, runId).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  private owns(
    desc: { typedSearchAttributes: TypedSearchAttributes; type: string },
    tenant: string,
  ): boolean {
    return desc.type === BATCH_WORKFLOW_TYPE && desc.typedSearchAttributes.get(BATCH_TENANT_SA) === tenant;
  }

  /**
   * The Batch of a described or listed execution, from its memo: the Batch set at start with the
   * workflow's `live` fields over it (status, timestamps, counts, files) as of its last update.
   * Only batches started before the workflow kept `live` fall back: status from the BatchStatus
   * search attribute while running, the workflow's result once completed.
   */
  private async fromInfo(info: Info, opts: { queryLegacy?: boolean } = {}): Promise<Batch> {
    const memo = (info.memo ?? {}) as BatchMemo;
    // One parse: of the merged Batch when the workflow keeps `live`, else of the Batch set at start.
    const fromMemo = memo.live ? BatchSchema.parse(batchFromMemo(memo.batch as Batch, memo.live)) : null;
    const initial = fromMemo ?? BatchSchema.parse(memo.batch);
    switch (info.status.name) {
      case 'RUNNING':
      case 'CONTINUED_AS_NEW': {
        if (fromMemo) return fromMemo;
        // Started before the API and workflow kept `live`: for one batch, its query has the counts
        // while a worker is up (lists never wait on it).
        const queried = opts.queryLegacy
          ? await this.withinSeconds(LEGACY_QUERY_S, () =>
              this.client.workflow.getHandle(info.workflowId, info.runId).query(getBatchQuery),
            )
          : null;
        if (queried) return withNewFields(queried);
        // Such a workflow sets the terminal status attribute before it closes: never show a
        // terminal status (without its timestamp) for a batch still running.
        const status = BatchStatusSchema.catch(initial.status).parse(
          info.typedSearchAttributes.get(BATCH_STATUS_SA) ?? initial.status,
        );
        return { ...initial, status: isTerminal(status) ? 'finalizing' : status };
      }
      case 'COMPLETED':
        if (fromMemo && isTerminal(fromMemo.status)) return fromMemo;
        return withNewFields(
          (await this.client.workflow.getHandle(info.workflowId, info.runId).result()) as Batch,
        );
      default: {
        // Terminated or timed out from outside: the batch is failed (or cancelled), never lost from view.
        const closedAt = Math.floor((info.closeTime ?? new Date()).getTime() / 1000);
        const stored = await this.snapshot(tenantOf(info), initial.id);
        if (stored) return stored;
        const cancelled = info.status.name === 'CANCELLED';
        return {
          ...initial,
          status: cancelled ? 'cancelled' : 'failed',
          ...(cancelled ? { cancelled_at: closedAt } : { failed_at: closedAt }),
          errors: cancelled
            ? null
            : {
                object: 'list',
                data: [
                  {
                    code: 'internal_error',
                    message: `batch workflow ${info.status.name.toLowerCase()}`,
                    param: null,
                    line: null,
                  },
                ],
              },
        };
      }
    }
  }

  /**
   * The workflow's Batch always has `x_replays: []`: replays are created after it ends, so their
   * links live in storage. Only a terminal batch can have any, which spares running ones the read.
   */
  private async withReplays(tenant: string, batch: Batch): Promise<Batch> {
    if (!isTerminal(batch.status)) return batch;
    const replays = await listReplays(this.store, tenant, batch.id);
    return replays.length > 0 ? { ...batch, x_replays: replays } : batch;
  }

  private async snapshot(tenant: string, id: string): Promise<Batch | null> {
    const raw = await this.store.get(layout.snapshot(tenant, id));
    return raw ? BatchSchema.parse(JSON.parse(raw.toString('utf8'))) : null;
  }
}

/** A Batch from a workflow older than x_paused_at and x_models (its query or result) gets them as null. */
function withNewFields(batch: Batch): Batch {
  return { ...batch, x_paused_at: batch.x_paused_at ?? null, x_models: batch.x_models ?? null };
}

/** Only a batch still validating or running can be paused or resumed. */
function mayPause(status: Batch['status']): boolean {
  return status === 'validating' || status === 'in_progress';
}

function matchOf(found: Described, fingerprint: string): IdempotentResult {
  // A batch found only as a stored snapshot has no fingerprint left to compare: it is the key's batch.
  const same = found.fingerprint === null || found.fingerprint === fingerprint;
  return { kind: same ? 'existing' : 'mismatch', batch: found.batch };
}

/** The id of the batch a workflow execution runs (set in its memo at start); undefined for other workflows. */
function memoBatchId(info: Info): string | undefined {
  const batch = (info.memo as BatchMemo | undefined)?.batch as { id?: unknown } | undefined;
  return typeof batch?.id === 'string' ? batch.id : undefined;
}

/** Creation order of a listed or described batch; one without BatchCreatedSeq sits at its second's start. */
function orderKey(info: { typedSearchAttributes: TypedSearchAttributes }): number {
  return (
    info.typedSearchAttributes.get(BATCH_CREATED_SEQ_SA) ??
    (info.typedSearchAttributes.get(BATCH_CREATED_AT_SA) ?? 0) * 1e6
  );
}

function tenantOf(desc: { typedSearchAttributes: TypedSearchAttributes }): string {
  return desc.typedSearchAttributes.get(BATCH_TENANT_SA) ?? '';
}

/** Visibility queries take string literals in single quotes. */
const escapeQuery = (s: string): string => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
