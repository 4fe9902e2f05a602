/** The output format one request asked for. */
export type RequestedFormat =
  | { kind: 'text' }
  /** JSON mode (`json_object`): any JSON object. */
  | { kind: 'json' }
  /** Structured output: JSON valid against `schemaText` (the schema as JSON text, the cache key). */
  | { kind: 'schema'; schemaText: string };

const TEXT: RequestedFormat = { kind: 'text' };
const JSON_MODE: RequestedFormat = { kind: 'json' };

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;

/** Where the endpoint's body keeps the format: chat `response_format`, responses `text.format`. */
function formatOf(endpoint: string, body: Json): Json | undefined {
  if (endpoint === '/v1/chat/completions') return asObject(body.response_format);
  if (endpoint === '/v1/responses') return asObject(asObject(body.text)?.format);
  return undefined;
}

/**
 * The format a request body (JSON text) asks for. Bodies that cannot name a JSON format (no
 * `"json_` anywhere) are not parsed at all: most requests are plain text, and this runs per line.
 */
export function requestedFormat(endpoint: string, requestBody: string): RequestedFormat {
  if (!requestBody.includes('"json_')) return TEXT;
  let body: Json | undefined;
  try {
    body = asObject(JSON.parse(requestBody));
  } catch {
    return TEXT;
  }
  const format = body && formatOf(endpoint, body);
  if (format?.type === 'json_object') return JSON_MODE;
  if (format?.type !== 'json_schema') return TEXT;
  // Chat nests the schema in `json_schema.schema`; the Responses API puts it on the format itself.
  const schema = endpoint === '/v1/chat/completions' ? asObject(format.json_schema)?.schema : format.schema;
  return schema === undefined ? JSON_MODE : { kind: 'schema', schemaText: JSON.stringify(schema) };
}
