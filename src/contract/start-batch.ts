import { z } from 'zod';
import { CreateBatchBody } from '../domain/batch';
import type { Batch } from '../domain/batch';
import { DEFAULT_COMPLETION_WINDOW, DEFAULT_TENANT, START_BATCH_CONTRACT_VERSION } from './defaults';

export * from './defaults';

/** A tenant name: what the API keys file maps keys to, and what a trusted tenant header must hold. */
export const TenantName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    'a tenant is 1–64 letters, digits, dots, dashes or underscores',
  );

/**
 * The public input of `batchWorkflow` (version START_BATCH_CONTRACT_VERSION): what a Temporal user
 * (TypeScript client, Python SDK, `temporal workflow start`, a parent workflow, a Nexus operation)
 * passes to start a batch without the HTTP API. The fields are those of `POST /v1/batches`, plus
 * where the input comes from and the tenant; ids and timestamps are filled in by the workflow.
 */
export const StartBatchInput = CreateBatchBody.omit({ input_file_id: true, completion_window: true })
  .extend({
    /** 1, the only version so far (optional). */
    contract_version: z.literal(START_BATCH_CONTRACT_VERSION).optional(),
    /** A file of our Files API (`file-…`, purpose `batch`) — or `input_file`, not both. */
    input_file_id: z.string().min(1).optional(),
    /**
     * A storage reference: a path relative to the storage root (filesystem storage), or
     * `s3://bucket/key` once S3 storage exists. It is registered as a Files API file of the tenant.
     */
    input_file: z.string().min(1).max(1024).optional(),
    completion_window: z.string().default(DEFAULT_COMPLETION_WINDOW),
    tenant: TenantName.default(DEFAULT_TENANT),
  })
  .strict()
  .refine((v) => (v.input_file_id === undefined) !== (v.input_file === undefined), {
    message: "exactly one of 'input_file_id' and 'input_file' is required",
    path: ['input_file_id'],
  });
/** What a caller writes (defaults optional). */
export type StartBatchInput = z.input<typeof StartBatchInput>;

/** Storage references of a batch's files, for readers that go to storage directly. */
export interface BatchStorageRefs {
  input_file: string;
  output_file: string | null;
  error_file: string | null;
}

/**
 * What `batchWorkflow` returns when started from Temporal: the final Batch object (as
 * `GET /v1/batches/{id}` shows it) plus where its files are stored.
 */
export type BatchResult = Batch & { x_storage: BatchStorageRefs };

/** `batchWorkflow` as a start from Temporal sees it: the public input in, the final Batch with storage refs out. */
export type BatchWorkflow = (input: StartBatchInput) => Promise<BatchResult>;
