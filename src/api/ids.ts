// The ids in a request's path (`:id`) and its `after` cursor are checked against our id formats
// before any handler runs, so a long or strange id can neither become a file name (ENAMETOOLONG →
// 500) nor a workflow id: a path id that cannot name anything is a 404 like an unknown one, a
// malformed cursor a 400. (`input_file_id` is checked where it is looked up: FileRepository.get.)
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../domain/api-error';
import { clip } from '../domain/clip';
import { isBatchId, isFileId } from '../ids';

const FORMATS = { file: isFileId, batch: isBatchId } as const;
type IdKind = keyof typeof FORMATS;

/** The kind of id a route's `:id` and `after` name: the resource its URL starts with. */
function kindOf(routeUrl: string): IdKind | null {
  if (routeUrl === '/v1/files' || routeUrl.startsWith('/v1/files/')) return 'file';
  if (routeUrl === '/v1/batches' || routeUrl.startsWith('/v1/batches/')) return 'batch';
  return null;
}

/** Answers a malformed id before any handler runs. */
export function checkRequestIds(req: FastifyRequest): void {
  const route = req.routeOptions.url ?? '';
  const kind = kindOf(route);
  if (!kind) return;
  const params = req.params as { id?: unknown } | undefined;
  if (params && 'id' in params && !FORMATS[kind](params.id)) {
    throw ApiError.notFound(kind, clip(String(params.id)));
  }
  const query = req.query as { after?: unknown } | undefined;
  const isList = route === '/v1/files' || route === '/v1/batches';
  if (isList && query && query.after !== undefined && !FORMATS[kind](query.after)) {
    throw ApiError.invalid(
      `Invalid value for 'after': expected a ${kind} id (${kind === 'file' ? 'file-…' : 'batch_…'}).`,
      'after',
    );
  }
}

export function registerIdChecks(app: FastifyInstance): void {
  app.addHook('preValidation', async (req) => checkRequestIds(req));
}
