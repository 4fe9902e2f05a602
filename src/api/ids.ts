// Every id a request names (path `:id`, the `after` cursor, `input_file_id`) is checked against
// our id formats before it reaches storage or Temporal: a long or strange id can neither become a
// file name (ENAMETOOLONG → 500) nor a workflow id. A bad path id is a 404, a bad parameter a 400.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../domain/api-error';
import { clip } from '../domain/clip';

/**
 * Our ids are a prefix and 24 letters or digits (src/ids.ts); up to 64 are accepted so a future
 * longer format still reads, far below any file-name or workflow-id limit.
 */
const ID_FORMATS = {
  file: /^file-[A-Za-z0-9]{1,64}$/,
  batch: /^batch_[A-Za-z0-9]{1,64}$/,
} as const;
export type IdKind = keyof typeof ID_FORMATS;

export const isFileId = (id: unknown): id is string => typeof id === 'string' && ID_FORMATS.file.test(id);
export const isBatchId = (id: unknown): id is string => typeof id === 'string' && ID_FORMATS.batch.test(id);
const isId = (kind: IdKind, id: unknown): boolean => typeof id === 'string' && ID_FORMATS[kind].test(id);

/** The kind of id a route's `:id` and `after` name: the resource its URL starts with. */
function kindOf(routeUrl: string | undefined): IdKind | null {
  if (!routeUrl) return null;
  if (routeUrl === '/v1/files' || routeUrl.startsWith('/v1/files/')) return 'file';
  if (routeUrl === '/v1/batches' || routeUrl.startsWith('/v1/batches/')) return 'batch';
  return null;
}

/** Answers a malformed id before any handler runs (a `preValidation` hook: the body is parsed by then). */
export function checkRequestIds(req: FastifyRequest): void {
  const kind = kindOf(req.routeOptions.url);
  if (!kind) return;
  const params = req.params as { id?: unknown } | undefined;
  if (params && 'id' in params && !isId(kind, params.id)) {
    throw ApiError.notFound(kind, clip(String(params.id)));
  }
  const query = req.query as { after?: unknown } | undefined;
  if (query && query.after !== undefined && !isId(kind, query.after)) {
    throw ApiError.invalid(
      `Invalid value for 'after': expected a ${kind} id (${kind === 'file' ? 'file-…' : 'batch_…'}).`,
      'after',
    );
  }
  // A wrong type (number, object…) is left to the route's schema, which names it `invalid_type`.
  const body = req.body as { input_file_id?: unknown } | undefined;
  if (
    req.method === 'POST' &&
    req.routeOptions.url === '/v1/batches' &&
    body !== null &&
    typeof body === 'object' &&
    typeof body.input_file_id === 'string' &&
    body.input_file_id !== '' &&
    !isFileId(body.input_file_id)
  ) {
    throw ApiError.invalid(
      `Invalid value for 'input_file_id': '${clip(body.input_file_id)}' is not a file id (file-…).`,
      'input_file_id',
    );
  }
}

export function registerIdChecks(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => checkRequestIds(req));
}
