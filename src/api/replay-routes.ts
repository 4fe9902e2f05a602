import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { clip } from '../domain/clip';
import { ApiError } from '../domain/api-error';
import { identityOf } from './auth/authenticate';
import type { ActiveBatchQuota } from './quota';
import { replayBatch, ReplayBody, type ReplayDeps } from './replay';
import { tenantOf } from './tenant';

const IdParams = z.object({ id: z.string() });

/** POST /v1/batches/{id}/replay: dead-letter replay of a finished batch's failed lines (our extension). */
export function registerReplayRoutes(
  app: FastifyInstance,
  deps: ReplayDeps & { quota: ActiveBatchQuota },
): void {
  app.post('/v1/batches/:id/replay', async (req) => {
    const { id } = IdParams.parse(req.params);
    // The body is optional: none (or `null`) replays every failed line with the original's settings.
    const parsed = ReplayBody.safeParse(req.body ?? {}, { reportInput: true });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      if (issue.code === 'unrecognized_keys') {
        const key = clip(issue.keys[0] ?? '');
        throw ApiError.invalid(`Unknown parameter: '${key}'.`, key || null, 'unknown_parameter');
      }
      if (issue.path.length === 0) throw ApiError.invalid('The request body must be a JSON object.');
      throw ApiError.fromZod(parsed.error);
    }
    // A replay creates a batch: the tenant's max_active_batches applies, and its current share.
    const identity = identityOf(req);
    const { weight, maxInFlight } = identity;
    return deps.quota.run(identity, (admit) =>
      replayBatch(deps, tenantOf(req), id, parsed.data, { admit, tenantShare: { weight, maxInFlight } }),
    );
  });
}
