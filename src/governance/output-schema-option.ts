import { ApiError } from '../domain/api-error';
import type { ObjectStore } from '../storage/object-store';
import { layout } from '../storage/layout';
import { contentExtractor } from './content';
import { compileSchema } from './schema';

/**
 * Checks a create body's `x_output_schema` (it must compile, for an endpoint that generates text)
 * and stores it for the chunks; answers its storage key. Throws a 400 naming `x_output_schema`.
 */
export async function storeOutputSchema(
  store: ObjectStore,
  tenant: string,
  batchId: string,
  endpoint: string,
  schema: Record<string, unknown>,
): Promise<string> {
  if (!contentExtractor(endpoint))
    throw ApiError.invalid(
      `Invalid value for 'x_output_schema': endpoint '${endpoint}' returns no generated content to validate.`,
      'x_output_schema',
    );
  const text = JSON.stringify(schema);
  const compiled = compileSchema(text);
  if (!compiled.ok)
    throw ApiError.invalid(
      compiled.unsupported
        ? `Invalid value for 'x_output_schema': ${compiled.error}.`
        : `Invalid value for 'x_output_schema': not a valid JSON schema (${compiled.error}).`,
      'x_output_schema',
    );
  const key = layout.outputSchema(tenant, batchId);
  await store.put(key, text);
  return key;
}
