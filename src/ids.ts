import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i] % ALPHABET.length];
  return out;
}

export const newFileId = (): string => `file-${randomToken(24)}`;
export const newBatchId = (): string => `batch_${randomToken(24)}`;
export const newRequestLineId = (): string => `batch_req_${randomToken(24)}`;

/** A file id derived from a batch, so a retried finalize registers the same file again, not a second one. */
export function derivedFileId(batchId: string, role: 'output' | 'error'): string {
  const digest = createHash('sha256').update(`${batchId}:${role}`).digest('base64url').replace(/[-_]/g, '');
  return `file-${digest.slice(0, 24)}`;
}
