// The `batch.request` object of GET /v1/batches/{id}/requests/{custom_id}: one record's attempts and result.
import { z } from 'zod';

/** Why an attempt got no HTTP answer at all. */
export const AttemptError = z.object({
  code: z.enum(['request_timeout', 'request_failed']),
  message: z.string(),
});
export type AttemptError = z.infer<typeof AttemptError>;

/** One call to the gateway for a record; `status_code` is null exactly when `error` is set. */
export const RecordAttempt = z.object({
  attempt: z.number().int().min(1),
  started_at_ms: z.number().int(),
  duration_ms: z.number().int().min(0),
  status_code: z.number().int().nullable(),
  error: AttemptError.nullable(),
  /** The wait the gateway asked for (Retry-After), when it asked. */
  retry_after_ms: z.number().int().min(0).nullable(),
});
export type RecordAttempt = z.infer<typeof RecordAttempt>;

/** `done` once the final line exists; `in_flight` while its chunk runs; `pending` otherwise. */
export const RECORD_STATES = ['pending', 'in_flight', 'done'] as const;
export const RecordState = z.enum(RECORD_STATES);
export type RecordState = z.infer<typeof RecordState>;

/** A line of the output or error file, as written there (extra fields such as x_quality kept). */
export const ResultFileLine = z.looseObject({
  id: z.string(),
  custom_id: z.string(),
  response: z
    .looseObject({ status_code: z.number().int(), request_id: z.string(), body: z.unknown() })
    .nullable(),
  error: z.looseObject({ code: z.string(), message: z.string() }).nullable(),
});
export type ResultFileLine = z.infer<typeof ResultFileLine>;

export const RecordView = z.object({
  object: z.literal('batch.request'),
  batch_id: z.string(),
  custom_id: z.string(),
  model: z.string(),
  state: RecordState,
  attempts: z.array(RecordAttempt),
  result: ResultFileLine.nullable(),
  result_file: z.enum(['output', 'error']).nullable(),
});
export type RecordView = z.infer<typeof RecordView>;
