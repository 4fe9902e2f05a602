import type { FastifyRequest } from 'fastify';
import type { CreateBatchBody } from '../domain/batch';
import type { BatchOptions } from '../domain/batch-state';
import { storeOutputSchema } from '../governance/output-schema-option';
import { capturePassthroughHeaders } from '../security/passthrough-headers';
import type { SecretBox } from '../security/secret-box';
import type { ObjectStore } from '../storage/object-store';

export interface BatchOptionsDeps {
  store: ObjectStore;
  /** Lower-case names of client headers passed through to the gateway (PASSTHROUGH_HEADERS). */
  passthroughHeaders: string[];
  /** Seals captured headers at rest. */
  secrets: SecretBox;
}

/**
 * The governance options of a new batch, from the create body's `x_` extensions and the
 * request's headers. Large or secret values are written to storage and referenced by key.
 * Throws ApiError (400) for invalid options.
 */
export async function buildBatchOptions(
  deps: BatchOptionsDeps,
  req: FastifyRequest,
  tenant: string,
  batchId: string,
  body: CreateBatchBody,
): Promise<BatchOptions> {
  const options: BatchOptions = {};
  // Validated before anything else is stored, so a bad schema leaves nothing behind.
  if (body.x_output_schema)
    options.outputSchemaKey = await storeOutputSchema(
      deps.store,
      tenant,
      batchId,
      body.endpoint,
      body.x_output_schema,
    );
  const headersKey = await capturePassthroughHeaders(
    deps.store,
    deps.secrets,
    deps.passthroughHeaders,
    req.headers,
    tenant,
    batchId,
  );
  if (headersKey) options.headersKey = headersKey;
  if (body.x_quality_thresholds) options.qualityThresholds = body.x_quality_thresholds;
  if (body.x_max_tokens) options.maxTokens = body.x_max_tokens;
  return options;
}
