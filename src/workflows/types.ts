import type { BatchStorageRefs } from '../contract/start-batch';
import type { BatchError, GovernanceCounts, Usage } from '../domain/batch';
import type { BatchOptions } from '../domain/batch-state';
import type { Counts } from '../domain/counts';

export type { BatchOptions, Counts };

/** A child's progress signal: counts since its last one, and (from children of this code on) its model index. */
export interface ProgressDelta extends Counts {
  model?: number;
}

/** What the API gives the batch workflow when a batch is created. No request bodies, only references. */
export interface BatchWorkflowInput {
  batchId: string;
  tenant: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  createdAt: number;
  expiresAt: number;
  metadata: Record<string, string> | null;
  /** Lifetime of the output and error files, from `output_expires_after` (default 30 days). */
  outputTtlSeconds: number | null;
  /** The batch whose failed lines this one replays. */
  replayOf?: string | null;
  options?: BatchOptions;
}

/** A batch started from Temporal: its public input (unchecked) and the batch id the workflow minted. */
export interface PrepareInput {
  input: unknown;
  batchId: string;
}

/** A checked StartBatchInput, resolved to what the batch needs; timestamps come from the workflow. */
export interface PreparedBatch {
  tenant: string;
  endpoint: string;
  inputFileId: string;
  completionWindow: string;
  windowSeconds: number;
  metadata: Record<string, string> | null;
  outputTtlSeconds: number | null;
  options: BatchOptions;
  refs: BatchStorageRefs;
}

export interface ModelPlan {
  index: number;
  model: string;
  requests: number;
  segments: number;
  /** Chunk activities to keep in flight for this model. */
  window: number;
}

export type IngestResult =
  | { ok: true; total: number; models: ModelPlan[]; segmentsPerChunk: number }
  | { ok: false; errors: BatchError[] };

export interface IngestInput {
  tenant: string;
  batchId: string;
  endpoint: string;
  inputFileId: string;
}

export interface ChunkInput {
  tenant: string;
  batchId: string;
  endpoint: string;
  modelIndex: number;
  model: string;
  fromSegment: number;
  toSegment: number;
  /** Unix seconds the batch's window ends: earlier deadlines get upstream capacity first. */
  deadline: number;
  options?: BatchOptions;
}

export interface ModelShardInput {
  tenant: string;
  batchId: string;
  parentWorkflowId: string;
  endpoint: string;
  plan: ModelPlan;
  segmentsPerChunk: number;
  deadline: number;
  /** Every segment below `cursor` was started, and is done unless in `rerun` (carried across continue-as-new). */
  cursor: number;
  totals: Counts;
  options?: BatchOptions;
  /** The batch is paused: start no chunk until the `resume` signal (absent: not paused). */
  paused?: boolean;
  /** First segments of chunks a pause cancelled, to run again first (absent: none). */
  rerun?: number[];
}

export type MissingCode = 'batch_cancelled' | 'batch_expired' | 'batch_failed' | 'budget_exceeded';

export interface FinalizeInput {
  tenant: string;
  batchId: string;
  /** `requests` lets finalize check that the segments still hold every request ingest wrote. */
  models: { index: number; segments: number; requests?: number }[];
  /** The code written for requests that never got a result. */
  missingCode: MissingCode;
  outputTtlSeconds: number | null;
}

export interface FinalizeResult {
  outputFileId: string | null;
  errorFileId: string | null;
  completed: number;
  failed: number;
  usage: Usage;
  governance: GovernanceCounts;
  quality: { scored: number; passed: number };
  /** Per model (by plan index), the lines in each file (absent from results recorded before it). */
  models?: { index: number; completed: number; failed: number }[];
}
