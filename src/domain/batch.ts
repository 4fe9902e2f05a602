import { z } from 'zod';

/** Every status of the OpenAI Batch object, in lifecycle order. */
export const BATCH_STATUSES = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
] as const;
export const BatchStatus = z.enum(BATCH_STATUSES);
export type BatchStatus = z.infer<typeof BatchStatus>;

export const ENDPOINTS = [
  '/v1/responses',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
] as const;
export const Endpoint = z.enum(ENDPOINTS);
export type Endpoint = z.infer<typeof Endpoint>;

export const RequestCounts = z.object({
  total: z.number().int(),
  completed: z.number().int(),
  failed: z.number().int(),
});
export type RequestCounts = z.infer<typeof RequestCounts>;

export const Usage = z.object({
  input_tokens: z.number().int(),
  input_tokens_details: z.object({ cached_tokens: z.number().int() }),
  output_tokens: z.number().int(),
  output_tokens_details: z.object({ reasoning_tokens: z.number().int() }),
  total_tokens: z.number().int(),
});
export type Usage = z.infer<typeof Usage>;

export const BatchError = z.object({
  code: z.string(),
  message: z.string(),
  param: z.string().nullable(),
  line: z.number().int().nullable(),
});
export type BatchError = z.infer<typeof BatchError>;

/** Metadata: up to 16 string pairs, keys ≤ 64 chars, values ≤ 512 chars. */
export const Metadata = z
  .record(
    z.string().max(64, 'metadata keys must be at most 64 characters'),
    z.string().max(512, 'metadata values must be at most 512 characters'),
  )
  .refine((m) => Object.keys(m).length <= 16, { message: 'metadata may hold at most 16 pairs' });
export type Metadata = z.infer<typeof Metadata>;

/** `{anchor:"created_at", seconds}` as accepted by files.create and batches.create. */
export const ExpiresAfter = z.object({
  anchor: z.literal('created_at'),
  seconds: z.coerce.number().int().min(3600).max(2_592_000),
});
export type ExpiresAfter = z.infer<typeof ExpiresAfter>;

/** Per-request governance outcomes of a batch (our extension): how the gateway's decisions fell. */
export const GovernanceCounts = z.object({
  /** 2xx answers without a policy flag. */
  succeeded: z.number().int(),
  /** 409 policy blocks (never retried). */
  blocked: z.number().int(),
  /** 2xx answers the gateway marked `action: flag` (a header or body field, see GOVERNANCE_FLAG_*). */
  flagged: z.number().int(),
  /** Every other final answer or failure (4xx, 5xx after retries, timeouts, schema failures…). */
  errored: z.number().int(),
  /** Requests that needed more than one attempt. */
  retried: z.number().int(),
  /** Requests answered from the response cache instead of the gateway. */
  cached: z.number().int(),
});
export type GovernanceCounts = z.infer<typeof GovernanceCounts>;

/**
 * Output quality of a batch (our extension): lines scored, and lines passing the thresholds set
 * with `x_quality_thresholds` — `passed` and the thresholds are null when none were set (no verdict).
 */
export const QualitySummary = z.object({
  scored: z.number().int(),
  passed: z.number().int().nullable(),
  min_completeness: z.number().nullable(),
  min_consistency: z.number().nullable(),
});
export type QualitySummary = z.infer<typeof QualitySummary>;

/** The token budget of a batch (our extension), when one was set at creation. */
export const BudgetState = z.object({
  max_tokens: z.number().int(),
  used_tokens: z.number().int(),
  exceeded: z.boolean(),
});
export type BudgetState = z.infer<typeof BudgetState>;

/**
 * The OpenAI Batch object: every key present, `null` where unset — plus our `x_` extensions,
 * which OpenAI clients ignore.
 */
export const Batch = z.object({
  id: z.string(),
  object: z.literal('batch'),
  endpoint: z.string(),
  model: z.string().nullable(),
  errors: z.object({ object: z.literal('list'), data: z.array(BatchError) }).nullable(),
  input_file_id: z.string(),
  completion_window: z.string(),
  status: BatchStatus,
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  created_at: z.number().int(),
  in_progress_at: z.number().int().nullable(),
  expires_at: z.number().int().nullable(),
  finalizing_at: z.number().int().nullable(),
  completed_at: z.number().int().nullable(),
  failed_at: z.number().int().nullable(),
  expired_at: z.number().int().nullable(),
  cancelling_at: z.number().int().nullable(),
  cancelled_at: z.number().int().nullable(),
  request_counts: RequestCounts,
  usage: Usage,
  metadata: z.record(z.string(), z.string()).nullable(),
  x_governance: GovernanceCounts,
  x_quality: QualitySummary,
  x_budget: BudgetState.nullable(),
  /** The batch whose failed lines this batch replays (dead-letter replay), if any. */
  x_replay_of: z.string().nullable(),
  /** Batches created to replay this batch's failed lines. */
  x_replays: z.array(z.string()),
});
export type Batch = z.infer<typeof Batch>;

/** Body of POST /v1/batches. */
export const CreateBatchBody = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: Metadata.nullish(),
  output_expires_after: ExpiresAfter.optional(),
  // Our extensions (the openai clients send them with `extra_body` / extra keys):
  /** A JSON schema every 2xx answer's content must satisfy. */
  x_output_schema: z.record(z.string(), z.unknown()).optional(),
  /** Thresholds a line's quality scores must reach to count as passing. */
  x_quality_thresholds: z
    .object({
      min_completeness: z.number().min(0).max(1),
      min_consistency: z.number().min(0).max(1),
    })
    .optional(),
  /** Token budget: once the batch has used this many tokens, the rest stops (`budget_exceeded`). */
  x_max_tokens: z.number().int().positive().optional(),
});
export type CreateBatchBody = z.infer<typeof CreateBatchBody>;
