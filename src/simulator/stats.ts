import type { IncomingHttpHeaders } from 'node:http';
import type { ServingSnapshot } from './serving';

/** Calls that arrive without an X-Batch-Id header are counted under this batch id. */
export const NO_BATCH_ID = '-';

export interface InFlightCounters {
  calls: number;
  inFlight: number;
  maxInFlight: number;
}

/** JSON of GET /_sim/stats. */
export interface SimulatorStats extends InFlightCounters {
  /** Same as `calls`: every inference call received since start or the last reset. */
  totalCalls: number;
  /** HTTP status (as a string) → count; also "reset" (socket destroyed on purpose) and "aborted" (client left first). */
  byStatus: Record<string, number>;
  byModel: Record<string, InFlightCounters>;
  /** Route path (e.g. "/v1/chat/completions") → calls. */
  byEndpoint: Record<string, number>;
  /** Number of distinct batch ids seen (including NO_BATCH_ID). */
  batches: number;
  /** Epoch ms of the first call received and of the last one finished (null before any). */
  firstCallAtMs: number | null;
  lastFinishedAtMs: number | null;
  /** The serving-capacity model's slots and queue (servingSlots; all zeros while it is off). */
  serving: ServingSnapshot;
}

/** JSON of GET /_sim/batches/<batchId>. */
export interface BatchStats extends InFlightCounters {
  batchId: string;
  /** Calls without an X-Record-Id header (their record key falls back to a hash of the body). */
  missingRecordId: number;
  /** Calls without an Authorization header. */
  missingAuthorization: number;
  /** Calls without an Idempotency-Key header. */
  missingIdempotencyKey: number;
  /** Calls whose Idempotency-Key is not `<X-Batch-Id>:<X-Record-Id>`. */
  foreignIdempotencyKeys: number;
  /** Distinct Idempotency-Key values seen. */
  idempotencyKeys: number;
  /** Distinct record keys seen. */
  records: number;
  /** Records called more than once (i.e. retried). */
  retriedRecords: number;
  maxCallsPerRecord: number;
  byStatus: Record<string, number>;
  /** Request headers of the most recent call, without credentials; null before any call. */
  lastHeaders: Record<string, string | string[] | undefined> | null;
}

// Mutable counters; plain classes keep property shapes stable for V8 on the hot path.
class Counters implements InFlightCounters {
  calls = 0;
  inFlight = 0;
  maxInFlight = 0;

  enter(): void {
    this.calls++;
    if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }
}

class BatchCounters extends Counters {
  missingRecordId = 0;
  missingAuthorization = 0;
  missingIdempotencyKey = 0;
  foreignIdempotencyKeys = 0;
  idempotencyKeys = new Set<string>();
  byStatus: Record<string, number> = {};
  /** recordId → calls; doubles as the attempt counter for transient and rate-based faults. */
  records = new Map<string, number>();
  // Kept by reference (no per-call copy); credentials are stripped when read.
  lastHeaders: IncomingHttpHeaders | null = null;
}

const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'api-key', 'x-api-key', 'cookie']);

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * One in-flight call. `finish` runs at most once, whether the answer was sent or the socket closed first,
 * so counters can never be decremented twice.
 */
export class CallHandle {
  private done = false;

  constructor(
    private readonly owner: StatsStore,
    private readonly model: Counters | undefined,
    private readonly batch: BatchCounters,
    /** 1-based attempt number of this record. */
    readonly attempt: number,
    /** `<batchId>/<recordId>`, the key for deterministic fault draws. */
    readonly recordKey: string,
  ) {}

  get finished(): boolean {
    return this.done;
  }

  finish(status: string): void {
    if (this.done) return;
    this.done = true;
    // After a reset the owner is detached, so late finishes cannot disturb the fresh counters.
    this.owner.leave(status);
    if (this.model) this.model.inFlight--;
    this.batch.inFlight--;
    bump(this.batch.byStatus, status);
  }
}

/** All counters since start or the last reset. reset() in the server swaps in a new store. */
export class StatsStore {
  private readonly total = new Counters();
  private readonly byStatus: Record<string, number> = {};
  private readonly byEndpoint: Record<string, number> = {};
  private readonly byModel = new Map<string, Counters>();
  private readonly batches = new Map<string, BatchCounters>();
  private firstCallAtMs: number | null = null;
  private lastFinishedAtMs: number | null = null;

  begin(
    endpoint: string,
    model: string | undefined,
    batchId: string | undefined,
    recordId: string | undefined,
    fallbackRecordId: () => string,
    headers: IncomingHttpHeaders,
  ): CallHandle {
    this.total.enter();
    this.firstCallAtMs ??= Date.now();
    bump(this.byEndpoint, endpoint);

    let modelCounters: Counters | undefined;
    if (model !== undefined) {
      modelCounters = this.byModel.get(model);
      if (!modelCounters) {
        modelCounters = new Counters();
        this.byModel.set(model, modelCounters);
      }
      modelCounters.enter();
    }

    const bid = batchId ?? NO_BATCH_ID;
    let batch = this.batches.get(bid);
    if (!batch) {
      batch = new BatchCounters();
      this.batches.set(bid, batch);
    }
    batch.enter();
    batch.lastHeaders = headers;
    if (headers.authorization === undefined) batch.missingAuthorization++;
    let rid = recordId;
    if (rid === undefined) {
      batch.missingRecordId++;
      rid = fallbackRecordId();
    }
    const idempotencyKey = headers['idempotency-key'];
    if (typeof idempotencyKey !== 'string') batch.missingIdempotencyKey++;
    else {
      batch.idempotencyKeys.add(idempotencyKey);
      if (idempotencyKey !== `${bid}:${rid}`) batch.foreignIdempotencyKeys++;
    }
    const attempt = (batch.records.get(rid) ?? 0) + 1;
    batch.records.set(rid, attempt);
    return new CallHandle(this, modelCounters, batch, attempt, bid + '/' + rid);
  }

  /** Called by CallHandle.finish only. */
  leave(status: string): void {
    this.lastFinishedAtMs = Date.now();
    this.total.inFlight--;
    bump(this.byStatus, status);
  }

  /** Everything but `serving`, which the server's ServingPool adds. */
  snapshot(): Omit<SimulatorStats, 'serving'> {
    // Object.fromEntries defines own keys: a model named `__proto__` is listed, not swallowed.
    const byModel: Record<string, InFlightCounters> = Object.fromEntries(
      [...this.byModel].map(([model, c]) => [
        model,
        { calls: c.calls, inFlight: c.inFlight, maxInFlight: c.maxInFlight },
      ]),
    );
    return {
      totalCalls: this.total.calls,
      calls: this.total.calls,
      inFlight: this.total.inFlight,
      maxInFlight: this.total.maxInFlight,
      byStatus: { ...this.byStatus },
      byModel,
      byEndpoint: { ...this.byEndpoint },
      batches: this.batches.size,
      firstCallAtMs: this.firstCallAtMs,
      lastFinishedAtMs: this.lastFinishedAtMs,
    };
  }

  batchIds(): string[] {
    return [...this.batches.keys()];
  }

  /** Zeroed stats for an unknown batch, so "never called" reads as calls: 0 rather than an error. */
  batch(batchId: string): BatchStats {
    const b = this.batches.get(batchId);
    if (!b) {
      return {
        batchId,
        calls: 0,
        inFlight: 0,
        maxInFlight: 0,
        missingRecordId: 0,
        missingAuthorization: 0,
        missingIdempotencyKey: 0,
        foreignIdempotencyKeys: 0,
        idempotencyKeys: 0,
        records: 0,
        retriedRecords: 0,
        maxCallsPerRecord: 0,
        byStatus: {},
        lastHeaders: null,
      };
    }
    let retried = 0;
    let maxCalls = 0;
    for (const n of b.records.values()) {
      if (n > 1) retried++;
      if (n > maxCalls) maxCalls = n;
    }
    let lastHeaders: BatchStats['lastHeaders'] = null;
    if (b.lastHeaders) {
      lastHeaders = {};
      for (const [k, v] of Object.entries(b.lastHeaders)) if (!SECRET_HEADERS.has(k)) lastHeaders[k] = v;
    }
    return {
      batchId,
      calls: b.calls,
      inFlight: b.inFlight,
      maxInFlight: b.maxInFlight,
      missingRecordId: b.missingRecordId,
      missingAuthorization: b.missingAuthorization,
      missingIdempotencyKey: b.missingIdempotencyKey,
      foreignIdempotencyKeys: b.foreignIdempotencyKeys,
      idempotencyKeys: b.idempotencyKeys.size,
      records: b.records.size,
      retriedRecords: retried,
      maxCallsPerRecord: maxCalls,
      byStatus: { ...b.byStatus },
      lastHeaders,
    };
  }

  /** recordId → calls for one batch (empty for an unknown batch). */
  records(batchId: string): Record<string, number> {
    const b = this.batches.get(batchId);
    return b ? Object.fromEntries(b.records) : {};
  }

  recordCalls(batchId: string, recordId: string): number {
    return this.batches.get(batchId)?.records.get(recordId) ?? 0;
  }
}
