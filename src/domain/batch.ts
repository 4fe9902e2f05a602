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

export const TERMINAL_STATUSES: readonly BatchStatus[] = ['failed', 'completed', 'expired', 'cancelled'];

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

/** The OpenAI Batch object: every key present, `null` where unset. */
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
});
export type Batch = z.infer<typeof Batch>;

/** Body of POST /v1/batches. */
export const CreateBatchBody = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: Metadata.nullish(),
  output_expires_after: ExpiresAfter.optional(),
});
export type CreateBatchBody = z.infer<typeof CreateBatchBody>;
