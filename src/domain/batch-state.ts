// Pure helpers over the Batch object, safe to import from workflow code (no zod, no Node APIs).
import type { Batch, BatchStatus, GovernanceCounts, QualitySummary, Usage } from './batch';

export function emptyUsage(): Usage {
  return {
    input_tokens: 0,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: 0,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: 0,
  };
}

export function addUsage(into: Usage, add: Usage): void {
  into.input_tokens += add.input_tokens;
  into.input_tokens_details.cached_tokens += add.input_tokens_details.cached_tokens;
  into.output_tokens += add.output_tokens;
  into.output_tokens_details.reasoning_tokens += add.output_tokens_details.reasoning_tokens;
  into.total_tokens += add.total_tokens;
}

export function emptyGovernance(): GovernanceCounts {
  return { succeeded: 0, blocked: 0, flagged: 0, errored: 0, retried: 0, cached: 0 };
}

/** Adds `add` into `into`; tolerates `add` missing (progress from workflows started before it existed). */
export function addGovernance(into: GovernanceCounts, add: GovernanceCounts | undefined): void {
  if (!add) return;
  into.succeeded += add.succeeded;
  into.blocked += add.blocked;
  into.flagged += add.flagged;
  into.errored += add.errored;
  into.retried += add.retried;
  into.cached += add.cached;
}

export function isTerminal(status: BatchStatus): boolean {
  return status === 'failed' || status === 'completed' || status === 'expired' || status === 'cancelled';
}

/** Parses a completion window such as "24h", "30m" or "90s" into seconds; null when malformed. */
export function completionWindowSeconds(window: string): number | null {
  const m = /^(\d+)([smhd])$/.exec(window);
  if (!m) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/**
 * Governance options chosen at creation and carried down to every chunk. Only references and
 * small values: the output schema and the captured headers live (encrypted) in storage.
 */
export interface BatchOptions {
  /** Storage key of a JSON schema every 2xx response's content must satisfy (`x_output_schema`). */
  outputSchemaKey?: string | null;
  /** Storage key of the client headers captured for pass-through (encrypted at rest). */
  headersKey?: string | null;
  qualityThresholds?: { min_completeness: number; min_consistency: number } | null;
  /** Token budget of the whole batch (`x_max_tokens`). */
  maxTokens?: number | null;
  /**
   * The tenant's share of upstream capacity, from the API keys file at creation: its weight
   * against other tenants competing for a model (default 1), and its cap on requests in flight.
   */
  tenantShare?: { weight: number; maxInFlight: number | null } | null;
  /** Storage key of the batch's webhook (URL and secret, sealed at rest: src/webhooks/target.ts); absent: no events. */
  webhookKey?: string | null;
  /** When the batch was created, epoch ms (set when it is started): the worker's time-to-first-call metric. */
  createdAtMs?: number | null;
}

/** The fields a batch is created with (a subset of the batch workflow's input). */
export interface NewBatchFields {
  batchId: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  createdAt: number;
  expiresAt: number;
  metadata: Record<string, string> | null;
  /** Extensions chosen at creation (optional, so older workflow inputs still replay). */
  replayOf?: string | null;
  options?: BatchOptions;
}

/** The Batch as it is the moment it is created (status `validating`). */
export function newBatch(f: NewBatchFields): Batch {
  return {
    id: f.batchId,
    object: 'batch',
    endpoint: f.endpoint,
    model: null,
    errors: null,
    input_file_id: f.inputFileId,
    completion_window: f.completionWindow,
    status: 'validating',
    output_file_id: null,
    error_file_id: null,
    created_at: f.createdAt,
    in_progress_at: null,
    expires_at: f.expiresAt,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    usage: emptyUsage(),
    metadata: f.metadata,
    x_governance: emptyGovernance(),
    x_quality: newQualitySummary(f.options?.qualityThresholds),
    x_budget: f.options?.maxTokens
      ? { max_tokens: f.options.maxTokens, used_tokens: 0, exceeded: false }
      : null,
    x_replay_of: f.replayOf ?? null,
    x_replays: [],
    x_paused_at: null,
    x_models: null,
  };
}

/** No thresholds set: lines are scored, nobody judged them (`passed` and the thresholds null). */
function newQualitySummary(thresholds: BatchOptions['qualityThresholds']): QualitySummary {
  return thresholds
    ? { scored: 0, passed: 0, ...thresholds }
    : { scored: 0, passed: null, min_completeness: null, min_consistency: null };
}

/** Adds a progress delta's quality to the batch's (`passed` only when there is a verdict). */
export function addQuality(into: QualitySummary, add: { scored: number; passed: number } | undefined): void {
  if (!add) return;
  into.scored += add.scored;
  if (into.passed !== null) into.passed += add.passed;
}

/** The fields of a Batch the workflow changes while it runs (everything but what creation fixed). */
export type LiveBatchFields = Omit<
  Batch,
  | 'id'
  | 'object'
  | 'endpoint'
  | 'input_file_id'
  | 'completion_window'
  | 'created_at'
  | 'expires_at'
  | 'metadata'
  | 'x_replay_of'
  | 'x_replays'
>;

/**
 * The workflow keeps these in its memo under `live` (the API set `batch` at start), so a batch's
 * status and counts can be read by describe or list without a worker. Only the changing part is
 * upserted: metadata (up to 16 × 512 chars) is not rewritten into history at every progress.
 */
export function liveFields(b: Batch): LiveBatchFields {
  return {
    model: b.model,
    errors: b.errors,
    status: b.status,
    output_file_id: b.output_file_id,
    error_file_id: b.error_file_id,
    in_progress_at: b.in_progress_at,
    finalizing_at: b.finalizing_at,
    completed_at: b.completed_at,
    failed_at: b.failed_at,
    expired_at: b.expired_at,
    cancelling_at: b.cancelling_at,
    cancelled_at: b.cancelled_at,
    request_counts: b.request_counts,
    usage: b.usage,
    x_governance: b.x_governance,
    x_quality: b.x_quality,
    x_budget: b.x_budget,
    x_paused_at: b.x_paused_at,
    x_models: b.x_models,
  };
}

/** The Batch as of the last memo upsert: the creation-time Batch with the live fields over it. */
export function batchFromMemo(initial: Batch, live: Partial<LiveBatchFields> | null | undefined): Batch {
  return live ? { ...initial, ...live } : initial;
}
