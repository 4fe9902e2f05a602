import type { FastifyRequest } from 'fastify';
import type { CreateBatchBody } from '../domain/batch';
import type { BatchOptions } from '../domain/batch-state';
import type { ObjectStore } from '../storage/object-store';

export interface BatchOptionsDeps {
  store: ObjectStore;
  /** Lower-case names of client headers passed through to the gateway (PASSTHROUGH_HEADERS). */
  passthroughHeaders: string[];
}

/**
 * The governance options of a new batch, from the create body's `x_` extensions and the
 * request's headers. Large or secret values are written to storage and referenced by key.
 * Throws ApiError (400) for invalid options.
 */
export async function buildBatchOptions(
  _deps: BatchOptionsDeps,
  _req: FastifyRequest,
  _tenant: string,
  _batchId: string,
  body: CreateBatchBody,
): Promise<BatchOptions> {
  const options: BatchOptions = {};
  if (body.x_quality_thresholds) options.qualityThresholds = body.x_quality_thresholds;
  if (body.x_max_tokens) options.maxTokens = body.x_max_tokens;
  return options;
}
