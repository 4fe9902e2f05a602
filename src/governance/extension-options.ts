import type { CreateBatchBody } from '../domain/batch';
import type { BatchOptions } from '../domain/batch-state';
import type { ObjectStore } from '../storage/object-store';
import { storeOutputSchema } from './output-schema-option';

/** The governance extensions of a create body (`POST /v1/batches` and a start from Temporal alike). */
export type ExtensionFields = Pick<
  CreateBatchBody,
  'endpoint' | 'x_output_schema' | 'x_quality_thresholds' | 'x_max_tokens'
>;

/**
 * The batch options chosen by the `x_` extensions. The output schema is validated, then written
 * to storage and referenced by key. Throws ApiError (400) for an invalid schema.
 */
export async function extensionOptions(
  store: ObjectStore,
  tenant: string,
  batchId: string,
  body: ExtensionFields,
): Promise<BatchOptions> {
  const options: BatchOptions = {};
  if (body.x_output_schema)
    options.outputSchemaKey = await storeOutputSchema(
      store,
      tenant,
      batchId,
      body.endpoint,
      body.x_output_schema,
    );
  if (body.x_quality_thresholds) options.qualityThresholds = body.x_quality_thresholds;
  if (body.x_max_tokens) options.maxTokens = body.x_max_tokens;
  return options;
}
