import type { StoredFile } from './file';
import { ApiError } from './api-error';
import { Endpoint, ENDPOINTS } from './batch';
import { completionWindowSeconds } from './batch-state';
import { clip } from './clip';

// Checks a new batch's parameters the same way whichever route creates it: `POST /v1/batches`
// (answered as 4xx) or a start from Temporal (failed as InvalidBatchInput, same message).

export function checkEndpoint(value: string): Endpoint {
  const endpoint = Endpoint.safeParse(value);
  if (!endpoint.success)
    throw ApiError.invalid(
      `Invalid value for 'endpoint': must be one of ${ENDPOINTS.join(', ')}.`,
      'endpoint',
    );
  return endpoint.data;
}

/** The window in seconds; it must be one the deployment allows (COMPLETION_WINDOWS). */
export function checkCompletionWindow(window: string, allowed: readonly string[]): number {
  const seconds = completionWindowSeconds(window);
  if (!allowed.includes(window) || seconds === null) {
    throw ApiError.invalid(
      `Invalid value for 'completion_window': must be one of ${allowed.join(', ')}.`,
      'completion_window',
    );
  }
  return seconds;
}

/** The tenant's file `id`, which must exist and have purpose `batch`. */
export async function requireBatchInputFile(
  files: { get(tenant: string, id: string): Promise<StoredFile | null> },
  tenant: string,
  id: string,
): Promise<StoredFile> {
  const file = await files.get(tenant, id);
  if (!file) throw new ApiError(404, 'not_found_error', `No such file: '${clip(id)}'`, 'input_file_id', null);
  if (file.purpose !== 'batch') {
    throw ApiError.invalid(
      `File '${file.id}' has purpose '${file.purpose}'; a batch needs purpose 'batch'.`,
      'input_file_id',
    );
  }
  return file;
}
