import { z } from 'zod';

export const FILE_PURPOSES = ['assistants', 'batch', 'fine-tune', 'vision', 'user_data', 'evals'] as const;
export const FilePurpose = z.enum(FILE_PURPOSES);
/** Purposes a file can have; `batch_output` is ours to give, never accepted at upload. */
export type StoredPurpose = z.infer<typeof FilePurpose> | 'batch_output';

/** The OpenAI File object. */
export const FileObject = z.object({
  id: z.string(),
  object: z.literal('file'),
  bytes: z.number().int(),
  created_at: z.number().int(),
  filename: z.string(),
  purpose: z.string(),
  status: z.enum(['uploaded', 'processed', 'error']),
  expires_at: z.number().int().nullable(),
  status_details: z.string().nullable(),
});
export type FileObject = z.infer<typeof FileObject>;

/** The answer of DELETE /v1/files/{id}. */
export const FileDeleted = z.object({ id: z.string(), object: z.literal('file'), deleted: z.literal(true) });
export type FileDeleted = z.infer<typeof FileDeleted>;

/** What we store beside a file's content: the File object plus the owning tenant. */
export const StoredFile = FileObject.extend({ tenant: z.string() });
export type StoredFile = z.infer<typeof StoredFile>;

/** Default lifetime of batch input and output files: 30 days. */
export const DEFAULT_FILE_TTL_SECONDS = 30 * 24 * 3600;

/** A new `batch` input file of `tenant` (uploaded through storage, not the Files API), for 30 days. */
export function newBatchInputFile(f: {
  id: string;
  tenant: string;
  filename: string;
  bytes: number;
}): StoredFile {
  const now = Math.floor(Date.now() / 1000);
  return {
    ...f,
    object: 'file',
    created_at: now,
    purpose: 'batch',
    status: 'processed',
    expires_at: now + DEFAULT_FILE_TTL_SECONDS,
    status_details: null,
  };
}
