// The OpenAPI 3.1 document of GET /openapi.json: every route, its parameters, bodies and answers,
// with the schemas generated from the zod objects the routes use (components.ts).
import { z } from 'zod';
import { CONSOLE_FILES } from '../../console/build';
import { ENDPOINTS } from '../../domain/batch';
import { BATCH_ID_PATTERN, FILE_ID_PATTERN } from '../../ids';
import { IDEMPOTENCY_KEY, ListBatchesQuery } from '../batches-routes';
import { ListFilesQuery } from '../files-routes';
import { ResultsQuery } from '../records-routes';
import { componentSchemas, ref, type ComponentName, type JsonSchema } from './components';

/** Error answers by status, each in OpenAI's error shape (components.responses). */
const ERRORS = {
  400: 'Invalid request: a parameter, the body or the URL (`error.param` names the parameter).',
  401: 'No valid API key (`invalid_api_key`) or tenant header; `www-authenticate: Bearer`.',
  404: 'No such object (or one of another tenant), or an unknown route.',
  409: "The batch's state does not allow this (`error.code` says why).",
  413: 'The body or the uploaded file is larger than this deployment accepts.',
  415: 'A body of a content type this route does not read.',
  422: 'This Idempotency-Key was used for a batch created with other parameters.',
  429: "The tenant's `max_active_batches` are running (`x-should-retry: false`).",
} as const;
type ErrorStatus = keyof typeof ERRORS;

// Not `required`: the router's own errors (a malformed URL, an over-long path id) go out before
// the hook that sets it.
const requestIdHeader = {
  description: "This request's id (`req_…`), as the openai clients expose it.",
  schema: { type: 'string', pattern: '^req_[A-Za-z0-9]+$' },
};

type Content = Record<string, { schema: JsonSchema } & Record<string, unknown>>;

interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tag: 'Files' | 'Batches' | 'Batch extensions' | 'Operations' | 'Console';
  /** Path parameters: name → schema (all required). */
  path?: Record<string, JsonSchema>;
  query?: z.ZodObject;
  /** The id pattern of the query's `after` cursor. */
  after?: JsonSchema;
  headers?: Record<string, JsonSchema & { description: string }>;
  body?: { required: boolean; content: Content };
  ok: {
    status?: number;
    description: string;
    content: Content;
    headers?: Record<string, unknown>;
    /** Operations that take this answer's `id` (OpenAPI links: clients and fuzzers follow them). */
    links?: Record<string, unknown>;
  };
  /** More answers that are not errors (e.g. /health's 503). */
  other?: Record<number, { description: string; content: Content }>;
  errors: ErrorStatus[];
  /** No API key needed. */
  public?: boolean;
}

const json = (schema: JsonSchema): Content => ({ 'application/json': { schema } });
const describe = (schema: JsonSchema, description: string) => ({ ...schema, description });

const fileId = describe({ type: 'string', pattern: FILE_ID_PATTERN.source }, 'A file id (`file-…`).');
const batchId = describe({ type: 'string', pattern: BATCH_ID_PATTERN.source }, 'A batch id (`batch_…`).');
/** Every route under /v1/batches/{batch_id} that acts on a batch and answers it. */
const batchPath = { batch_id: batchId };

/** Query parameters of `query`; `after` is an id of the listed kind (checked by src/api/ids.ts). */
function queryParameters(query: z.ZodObject, after?: JsonSchema): JsonSchema[] {
  const schema = z.toJSONSchema(query, { target: 'draft-2020-12', io: 'input' }) as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(schema.properties ?? {}).map(([name, s]) => {
    const { description, ...rest } = s;
    return {
      name,
      in: 'query',
      required: schema.required?.includes(name) ?? false,
      ...(description ? { description } : {}),
      schema: name === 'after' && after ? { ...rest, ...after } : rest,
    };
  });
}

function operationObject(op: Operation): JsonSchema {
  const parameters = [
    ...Object.entries(op.path ?? {}).map(([name, schema]) => {
      const { description, ...rest } = schema;
      return { name, in: 'path', required: true, description, schema: rest };
    }),
    ...(op.query ? queryParameters(op.query, op.after) : []),
    ...Object.entries(op.headers ?? {}).map(([name, schema]) => {
      const { description, ...rest } = schema;
      return { name, in: 'header', required: false, description, schema: rest };
    }),
  ];
  const responses: Record<string, unknown> = {
    [String(op.ok.status ?? 200)]: {
      description: op.ok.description,
      headers: { 'x-request-id': { $ref: '#/components/headers/RequestId' }, ...op.ok.headers },
      content: op.ok.content,
      ...(op.ok.links ? { links: op.ok.links } : {}),
    },
  };
  for (const [status, answer] of Object.entries(op.other ?? {})) responses[status] = answer;
  for (const status of op.errors) responses[status] = { $ref: `#/components/responses/Error${status}` };
  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: [op.tag],
    ...(op.public ? { security: [] } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(op.body ? { requestBody: op.body } : {}),
    responses,
  };
}

/** Links from an answer whose `id` is the `param` of each of `operationIds`. */
const linksById = (param: string, operationIds: string[]) =>
  Object.fromEntries(
    operationIds.map((operationId) => [
      operationId,
      { operationId, parameters: { [param]: '$response.body#/id' } },
    ]),
  );
const FILE_LINKS = linksById('file_id', ['retrieveFile', 'downloadFile', 'deleteFile']);
const BATCH_LINKS = linksById('batch_id', [
  'retrieveBatch',
  'cancelBatch',
  'pauseBatch',
  'resumeBatch',
  'streamBatchResults',
  'replayBatch',
]);

const batch = (description: string) => ({ description, content: json(ref('Batch')), links: BATCH_LINKS });
const TEXT = (description: string) => ({ type: 'string', description });

/** Every route of the API, by path template and method. */
const PATHS: Record<string, Record<string, Operation>> = {
  '/v1/files': {
    post: {
      operationId: 'createFile',
      summary: 'Upload a file (multipart/form-data, streamed to storage).',
      tag: 'Files',
      body: { required: true, content: { 'multipart/form-data': { schema: ref('FileUploadForm') } } },
      ok: { description: 'The new File.', content: json(ref('File')), links: FILE_LINKS },
      errors: [400, 401, 413, 415],
    },
    get: {
      operationId: 'listFiles',
      summary: "The tenant's files, newest first by default.",
      tag: 'Files',
      query: ListFilesQuery,
      after: { pattern: FILE_ID_PATTERN.source, description: 'The last id of the previous page.' },
      ok: { description: 'A page of files.', content: json(ref('FileList')) },
      errors: [400, 401],
    },
  },
  '/v1/files/{file_id}': {
    get: {
      operationId: 'retrieveFile',
      summary: 'A File.',
      tag: 'Files',
      path: { file_id: fileId },
      ok: { description: 'The File.', content: json(ref('File')) },
      errors: [400, 401, 404],
    },
    delete: {
      operationId: 'deleteFile',
      summary: 'Delete a file and its content.',
      tag: 'Files',
      path: { file_id: fileId },
      ok: { description: 'Deleted.', content: json(ref('FileDeleted')) },
      errors: [400, 401, 404],
    },
  },
  '/v1/files/{file_id}/content': {
    get: {
      operationId: 'downloadFile',
      summary: "A file's content (input lines, or a batch's output or error lines).",
      tag: 'Files',
      path: { file_id: fileId },
      ok: {
        description: 'The bytes as uploaded or written.',
        content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
      },
      errors: [400, 401, 404],
    },
  },
  '/v1/batches': {
    post: {
      operationId: 'createBatch',
      summary: 'Create a batch from an uploaded `batch` file.',
      description:
        'The `x_` fields of the body are our extensions; the openai clients send them as extra body keys.',
      tag: 'Batches',
      headers: {
        'Idempotency-Key': describe(
          { type: 'string', pattern: IDEMPOTENCY_KEY.source },
          'A retry with the same key and body answers the batch the first create made.',
        ),
      },
      body: { required: true, content: json(ref('CreateBatchRequest')) },
      ok: batch('The new Batch, `validating`.'),
      errors: [400, 401, 404, 413, 415, 422, 429],
    },
    get: {
      operationId: 'listBatches',
      summary: "The tenant's batches, newest first.",
      tag: 'Batches',
      query: ListBatchesQuery,
      after: { pattern: BATCH_ID_PATTERN.source, description: 'The last id of the previous page.' },
      ok: { description: 'A page of batches.', content: json(ref('BatchList')) },
      errors: [400, 401],
    },
  },
  '/v1/batches/{batch_id}': {
    get: {
      operationId: 'retrieveBatch',
      summary: 'A Batch, with live counts while it runs.',
      tag: 'Batches',
      path: batchPath,
      ok: batch('The Batch.'),
      errors: [400, 401, 404],
    },
  },
  '/v1/batches/{batch_id}/cancel': {
    post: {
      operationId: 'cancelBatch',
      summary: 'Cancel a batch: it moves to `cancelling`, then `cancelled` with partial output.',
      tag: 'Batches',
      path: batchPath,
      ok: batch('The Batch, `cancelling` (or already `cancelled`).'),
      errors: [400, 401, 404, 409, 413, 415],
    },
  },
  '/v1/batches/{batch_id}/pause': {
    post: {
      operationId: 'pauseBatch',
      summary: 'Pause a batch (extension): it starts no more requests; in-flight ones finish.',
      description:
        'Idempotent: pausing a paused batch answers the same `x_paused_at`. The completion window keeps ' +
        'running, and a cancel or the expiry still ends the batch. A finished, `cancelling` or ' +
        '`finalizing` batch answers 409 `batch_not_pausable`.',
      tag: 'Batch extensions',
      path: batchPath,
      ok: batch('The Batch, `x_paused_at` set.'),
      errors: [400, 401, 404, 409, 413, 415],
    },
  },
  '/v1/batches/{batch_id}/resume': {
    post: {
      operationId: 'resumeBatch',
      summary: 'Resume a paused batch (extension); a batch that is not paused is answered as is.',
      description: 'A finished, `cancelling` or `finalizing` batch answers 409 `batch_not_resumable`.',
      tag: 'Batch extensions',
      path: batchPath,
      ok: batch('The Batch, `x_paused_at` null.'),
      errors: [400, 401, 404, 409, 413, 415],
    },
  },
  '/v1/batches/{batch_id}/requests/{custom_id}': {
    get: {
      operationId: 'retrieveBatchRequest',
      summary: 'One record of a batch (extension): its state, every attempt, and its final line.',
      description: 'An unknown `custom_id`, or a batch still `validating`, answers 404 `request_not_found`.',
      tag: 'Batch extensions',
      path: {
        ...batchPath,
        custom_id: describe({ type: 'string', minLength: 1 }, "The record's `custom_id`, percent-encoded."),
      },
      ok: { description: 'The record.', content: json(ref('RecordView')) },
      errors: [400, 401, 404],
    },
  },
  '/v1/batches/{batch_id}/results': {
    get: {
      operationId: 'streamBatchResults',
      summary: 'The result lines finished so far (extension), while the batch runs and after.',
      description:
        'JSON Lines, each line exactly as in the output or error file (`ResultFileLine`); after the ' +
        'batch ends, every output line then every error line.',
      tag: 'Batch extensions',
      path: batchPath,
      query: ResultsQuery,
      ok: {
        description: 'The lines, one JSON object per line.',
        headers: {
          'x-batch-status': {
            description: "The batch's status when the read began.",
            required: true,
            schema: { type: 'string' },
          },
        },
        content: {
          // OpenAPI 3.1 cannot say what each line of a JSON Lines body is (3.2's itemSchema can).
          'application/jsonl': { schema: TEXT('JSON Lines'), 'x-item-schema': ref('ResultFileLine') },
        },
      },
      errors: [400, 401, 404],
    },
  },
  '/v1/batches/{batch_id}/replay': {
    post: {
      operationId: 'replayBatch',
      summary: "A new batch of a finished batch's failed lines (extension: dead-letter replay).",
      description:
        'A batch not yet finished, or whose input or error file is gone, answers 409; no matching ' +
        'failed line, 400 `nothing_to_replay`.',
      tag: 'Batch extensions',
      path: batchPath,
      // No body, or `null`, replays every failed line with the original's settings.
      body: { required: false, content: json({ anyOf: [ref('ReplayRequest'), { type: 'null' }] }) },
      ok: batch('The new Batch, `validating`, `x_replay_of` set.'),
      errors: [400, 401, 404, 409, 413, 415, 429],
    },
  },
  '/health': {
    get: {
      operationId: 'health',
      summary: 'Whether this API reaches Temporal (no API key).',
      tag: 'Operations',
      public: true,
      ok: { description: 'Temporal answers.', content: json(ref('Health')) },
      other: { 503: { description: 'Temporal is unreachable.', content: json(ref('Health')) } },
      errors: [400],
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this API process (no API key: bind it on a private network).',
      tag: 'Operations',
      public: true,
      ok: {
        description: 'Prometheus text exposition format.',
        content: { 'text/plain': { schema: TEXT('Prometheus text format 0.0.4') } },
      },
      errors: [400],
    },
  },
  '/openapi.json': {
    get: {
      operationId: 'openapi',
      summary: 'This document (no API key).',
      tag: 'Operations',
      public: true,
      ok: { description: 'OpenAPI 3.1.', content: json({ type: 'object' }) },
      errors: [400],
    },
  },
  '/console': {
    get: {
      operationId: 'console',
      summary: 'The browser console (also at `/console/`); the page asks for an API key and sends it.',
      tag: 'Console',
      public: true,
      ok: { description: 'The page.', content: { 'text/html': { schema: TEXT('HTML') } } },
      errors: [400, 404],
    },
  },
  '/console/settings.json': {
    get: {
      operationId: 'consoleSettings',
      summary: "What the console's page needs to know of this deployment.",
      tag: 'Console',
      public: true,
      ok: { description: 'The settings.', content: json(ref('ConsoleSettings')) },
      errors: [400],
    },
  },
  '/console/{file}': {
    get: {
      operationId: 'consoleFile',
      summary: "The console's script and stylesheet (and its page).",
      tag: 'Console',
      public: true,
      path: { file: describe({ type: 'string', enum: [...CONSOLE_FILES] }, 'One of the built files.') },
      ok: {
        description: 'The file.',
        content: {
          'text/html': { schema: TEXT('HTML') },
          'text/javascript': { schema: TEXT('JavaScript') },
          'text/css': { schema: TEXT('CSS') },
        },
      },
      errors: [400, 404],
    },
  },
};

/** Headers some errors always carry besides x-request-id. */
const ERROR_HEADERS: Partial<Record<ErrorStatus, Record<string, unknown>>> = {
  401: {
    'www-authenticate': { description: 'Always `Bearer`.', required: true, schema: { const: 'Bearer' } },
  },
  429: {
    'x-should-retry': {
      description: 'Always `false`: the limit lifts when a batch ends, not after a wait.',
      required: true,
      schema: { const: 'false' },
    },
  },
};

function errorResponses(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(ERRORS).map(([status, description]) => [
      `Error${status}`,
      {
        description,
        headers: {
          'x-request-id': { $ref: '#/components/headers/RequestId' },
          ...ERROR_HEADERS[Number(status) as ErrorStatus],
        },
        content: json(ref('Error' satisfies ComponentName)),
      },
    ]),
  );
}

const signatureHeader = (name: string, description: string) => ({
  name,
  in: 'header',
  required: true,
  description,
  schema: { type: 'string' },
});

/** What the gateway sends to a batch's webhook (OpenAPI 3.1 `webhooks`: requests we make, not serve). */
const WEBHOOKS = {
  batchEvent: {
    post: {
      operationId: 'batchEvent',
      summary: 'A batch ended: `batch.completed`, `batch.failed`, `batch.expired` or `batch.cancelled`.',
      description:
        'Signed per Standard Webhooks; delivered at least once with the same `webhook-id`, retried with ' +
        'backoff for hours, never delaying the batch itself.',
      tags: ['Webhooks'],
      security: [],
      parameters: [
        signatureHeader('webhook-id', 'The event id (`evt_…`), the same on every attempt.'),
        signatureHeader('webhook-timestamp', 'Unix seconds of this attempt.'),
        signatureHeader(
          'webhook-signature',
          '`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` with the secret.',
        ),
      ],
      requestBody: { required: true, content: json(ref('WebhookEvent')) },
      responses: {
        '2XX': { description: 'Delivered.' },
        '410': { description: 'Gone: the receiver wants no more events; delivery stops.' },
        default: { description: 'Anything else: retried later.' },
      },
    },
  },
};

/** What a deployment narrows: the completion windows it accepts (COMPLETION_WINDOWS). */
export interface DocumentOptions {
  completionWindows?: readonly string[];
}

/**
 * The request bodies' `endpoint` and `completion_window` are plain strings in zod (the routes check
 * them with messages of their own); the document lists the values they accept.
 */
function narrowBatchBodies(schemas: Record<string, JsonSchema>, opts: DocumentOptions): void {
  const props = (name: string) => (schemas[name] as { properties: Record<string, JsonSchema> }).properties;
  props('CreateBatchRequest').endpoint = { type: 'string', enum: [...ENDPOINTS] };
  if (!opts.completionWindows) return;
  const windows = { type: 'string', enum: [...opts.completionWindows] };
  props('CreateBatchRequest').completion_window = windows;
  props('ReplayRequest').completion_window = {
    ...windows,
    description: "Default: the original batch's window.",
  };
}

/** The whole document; built once per process (routes and schemas do not change at run time). */
export function buildOpenApiDocument(opts: DocumentOptions = {}): JsonSchema {
  const schemas = componentSchemas();
  narrowBatchBodies(schemas, opts);
  const paths = Object.fromEntries(
    Object.entries(PATHS).map(([path, ops]) => [
      path,
      Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, operationObject(op)])),
    ]),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'Temporal Batch Gateway',
      version: '1',
      description:
        "OpenAI's Files and Batch API, durable on Temporal, plus extensions: fields and routes whose " +
        'names start with `x_` or that are tagged "Batch extensions". Errors are in OpenAI\'s shape.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'Files', description: "OpenAI's Files API." },
      { name: 'Batches', description: "OpenAI's Batch API." },
      { name: 'Batch extensions', description: 'Ours: pause, resume, one record, partial results, replay.' },
      { name: 'Operations', description: 'Health, metrics and this document.' },
      { name: 'Console', description: 'The browser console: its page, files and settings (no API key).' },
      { name: 'Webhooks', description: "What the gateway POSTs to a batch's webhook (WEBHOOK_URL)." },
    ],
    security: [{ bearerAuth: [] }],
    paths,
    webhooks: WEBHOOKS,
    components: {
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key of API_KEYS_FILE (none needed when the deployment runs without keys).',
        },
      },
      headers: { RequestId: requestIdHeader },
      responses: errorResponses(),
      schemas,
    },
  };
}
