// Our extensions for looking inside a batch: one record (GET /v1/batches/{id}/requests/{custom_id})
// and the lines finished so far (GET /v1/batches/{id}/results).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../domain/api-error';
import { clip } from '../domain/clip';
import { batchRecord, recordNotFound, type RecordDeps } from './batch-record';
import { partialResults } from './partial-results';
import { tenantOf } from './tenant';

const IdParams = z.object({ id: z.string() });
/** Query of GET /v1/batches/{id}/results. */
export const ResultsQuery = z.object({
  kind: z
    .enum(['output', 'error'])
    .optional()
    .describe('Only the lines bound for the output file, or for the error file (default: both).'),
});

export function registerRecordRoutes(app: FastifyInstance, deps: RecordDeps): void {
  // A wildcard, not `:custom_id`: a custom_id may be longer than the router's parameter limit.
  app.get('/v1/batches/:id/requests/*', async (req) => {
    const { id } = IdParams.parse(req.params);
    const customId = (req.params as { '*'?: string })['*'] ?? '';
    const tenant = tenantOf(req);
    const batch = await deps.batches.get(tenant, id);
    if (!batch) throw ApiError.notFound('batch', id);
    if (!customId) throw recordNotFound(customId);
    return batchRecord(deps, tenant, batch, customId);
  });

  app.get('/v1/batches/:id/results', async (req, reply) => {
    const { id } = IdParams.parse(req.params);
    const query = ResultsQuery.safeParse(req.query);
    if (!query.success) {
      const kind = clip(String((req.query as { kind?: unknown }).kind));
      throw ApiError.invalid(`Invalid value for 'kind': '${kind}'; expected 'output' or 'error'.`, 'kind');
    }
    const tenant = tenantOf(req);
    const batch = await deps.batches.get(tenant, id);
    if (!batch) throw ApiError.notFound('batch', id);
    return reply
      .header('content-type', 'application/jsonl')
      .header('x-batch-status', batch.status)
      .send(partialResults(deps, tenant, batch, query.data.kind ?? 'both'));
  });
}
