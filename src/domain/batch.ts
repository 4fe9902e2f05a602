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

// Descriptions of our `x_` extensions are `.describe()` texts: GET /openapi.json publishes them.

export const GovernanceCounts = z
  .object({
    succeeded: z.number().int().describe('2xx answers without a policy flag.'),
    blocked: z.number().int().describe('409 policy blocks (never retried).'),
    flagged: z
      .number()
      .int()
      .describe(
        '2xx answers the gateway marked `action: flag` (a header or body field, see GOVERNANCE_FLAG_*).',
      ),
    errored: z
      .number()
      .int()
      .describe('Every other final answer or failure (4xx, 5xx after retries, timeouts, schema failures…).'),
    retried: z.number().int().describe('Requests that needed more than one attempt.'),
    cached: z.number().int().describe('Requests answered from the response cache instead of the gateway.'),
  })
  .describe("Per-request governance outcomes of a batch (our extension): how the gateway's decisions fell.");
export type GovernanceCounts = z.infer<typeof GovernanceCounts>;

export const QualitySummary = z
  .object({
    scored: z.number().int(),
    passed: z.number().int().nullable(),
    min_completeness: z.number().nullable(),
    min_consistency: z.number().nullable(),
  })
  .describe(
    'Output quality of a batch (our extension): lines scored, and lines passing the thresholds set ' +
      'with `x_quality_thresholds` — `passed` and the thresholds are null when none were set (no verdict).',
  );
export type QualitySummary = z.infer<typeof QualitySummary>;

export const ModelProgress = z
  .object({
    model: z.string(),
    request_counts: RequestCounts,
  })
  .describe("One model's share of a batch (our extension): its requests and how many have finished.");
export type ModelProgress = z.infer<typeof ModelProgress>;

export const BudgetState = z
  .object({
    max_tokens: z.number().int(),
    used_tokens: z.number().int(),
    exceeded: z.boolean(),
  })
  .describe('The token budget of a batch (our extension), when one was set at creation (`x_max_tokens`).');
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
  x_budget: BudgetState.nullable().describe('The token budget and its use; null when none was set.'),
  x_replay_of: z
    .string()
    .nullable()
    .describe('The batch whose failed lines this batch replays (dead-letter replay), if any.'),
  x_replays: z.array(z.string()).describe("Batches created to replay this batch's failed lines."),
  x_paused_at: z
    .number()
    .int()
    .nullable()
    .default(null)
    .describe(
      'Unix seconds the current pause began; null while not paused (and for batches from before pauses).',
    ),
  x_models: z
    .array(ModelProgress)
    .nullable()
    .default(null)
    .describe('Per-model counts in model order once the input is read; null before (and for older batches).'),
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
  x_output_schema: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("A JSON schema every 2xx answer's content must satisfy (else `schema_validation_failed`)."),
  x_quality_thresholds: z
    .object({
      min_completeness: z.number().min(0).max(1),
      min_consistency: z.number().min(0).max(1),
    })
    .optional()
    .describe("Thresholds a line's quality scores must reach to pass; without them, scores and no verdict."),
  x_max_tokens: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Token budget: once the batch has used this many tokens, the rest stops (`budget_exceeded`).'),
});
export type CreateBatchBody = z.infer<typeof CreateBatchBody>;
