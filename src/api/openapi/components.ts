// The named schemas of the OpenAPI document (components.schemas), generated from the zod schemas
// the routes use; the few shapes that exist only for the spec (list envelopes, the upload form,
// /health's answer) are defined here.
import { z } from 'zod';
import { ApiErrorBody } from '../../domain/api-error';
import {
  Batch,
  BatchError,
  BudgetState,
  CreateBatchBody,
  ExpiresAfter,
  GovernanceCounts,
  ModelProgress,
  QualitySummary,
  RequestCounts,
  Usage,
} from '../../domain/batch';
import { FileDeleted, FileObject, FilePurpose } from '../../domain/file';
import { RecordView, ResultFileLine } from '../../domain/record-view';
import { WebhookEventSchema } from '../../webhooks/event-schema';
import { ReplayBody } from '../replay';

/** OpenAI's list envelope around `item` (what listPage() writes). */
function listOf(item: z.ZodType) {
  return z.object({
    object: z.literal('list'),
    data: z.array(item),
    first_id: z.string().nullable().describe('Id of the first item of this page, null when empty.'),
    last_id: z.string().nullable().describe('Id of the last item: pass it as `after` for the next page.'),
    has_more: z.boolean(),
  });
}

export const FileList = listOf(FileObject).describe('A page of files.');
export const BatchList = listOf(Batch).describe('A page of batches, newest first.');

/** The multipart form of POST /v1/files, as files-routes.ts reads it. */
export const FileUploadForm = z.object({
  file: z.string().meta({ format: 'binary', description: 'The file; for purpose `batch`, a `.jsonl` file.' }),
  purpose: FilePurpose,
  'expires_after[anchor]': ExpiresAfter.shape.anchor.optional(),
  'expires_after[seconds]': ExpiresAfter.shape.seconds
    .optional()
    .describe('Lifetime in seconds after creation (default for `batch` files: 30 days; others: none).'),
});

export const Health = z
  .object({ status: z.enum(['ok', 'temporal_unreachable']) })
  .describe('Whether this API process reaches Temporal.');

/** GET /console/settings.json (console-route.ts's ConsoleSettings). */
export const ConsoleSettings = z.object({
  temporalUiUrl: z.string().describe('Base URL of the Temporal Web UI the page links batches to.'),
  namespace: z.string(),
  completionWindows: z.array(z.string()).describe('The completion windows a create may choose.'),
});

/** Schemas of answers (validated as the server writes them). */
const RESPONSES = {
  Error: ApiErrorBody,
  File: FileObject,
  FileList,
  FileDeleted,
  Batch,
  BatchList,
  BatchError,
  RequestCounts,
  ModelProgress,
  Usage,
  GovernanceCounts,
  QualitySummary,
  BudgetState,
  RecordView,
  ResultFileLine,
  Health,
  ConsoleSettings,
  WebhookEvent: WebhookEventSchema,
} as const;

/** Schemas of request bodies (validated as a client may send them: defaults optional, coercions widened). */
const REQUESTS = {
  CreateBatchRequest: CreateBatchBody,
  ReplayRequest: ReplayBody,
  FileUploadForm,
} as const;

export type ComponentName = keyof typeof RESPONSES | keyof typeof REQUESTS;
export type JsonSchema = Record<string, unknown>;

/** `$ref` to a named schema. */
export const ref = (name: ComponentName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** zod's bounds for a plain `.int()` (±2^53−1): true of every JSON integer we write, noise in a spec. */
function withoutSafeIntegerBounds(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(withoutSafeIntegerBounds);
  if (!node || typeof node !== 'object') return;
  const schema = node as JsonSchema;
  if (schema.minimum === Number.MIN_SAFE_INTEGER) delete schema.minimum;
  if (schema.maximum === Number.MAX_SAFE_INTEGER) delete schema.maximum;
  Object.values(schema).forEach(withoutSafeIntegerBounds);
}

function generate(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  for (const schema of Object.values(out)) {
    // Each is embedded in the document, not a standalone resource.
    delete schema.$schema;
    delete schema.$id;
    withoutSafeIntegerBounds(schema);
  }
  return out;
}

/** components.schemas: every named answer and request body. */
export function componentSchemas(): Record<string, JsonSchema> {
  return { ...generate(RESPONSES, 'output'), ...generate(REQUESTS, 'input') };
}
