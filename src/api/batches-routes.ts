import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../domain/api-error';
import { CreateBatchBody } from '../domain/batch';
import { checkCompletionWindow, checkEndpoint, requireBatchInputFile } from '../domain/batch-request';
import { newBatchId, newCreationSeq } from '../ids';
import type { FileRepository } from '../storage/file-repository';
import type { BatchWorkflowInput } from '../workflows/types';
import { buildBatchOptions, type BatchOptionsDeps } from './batch-options';
import type { BatchService } from './batch-service';
import { identityOf } from './auth/authenticate';
import { listPage } from './list-page';
import type { ActiveBatchQuota } from './quota';
import { tenantOf } from './tenant';

/** Query of GET /v1/batches. */
export const ListBatchesQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  after: z.string().optional(),
});
const IdParams = z.object({ id: z.string() });

/** An Idempotency-Key: 1–255 visible ASCII characters (as Stripe and the IETF draft allow). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/** The create's Idempotency-Key header; null without one. Throws 400 for a malformed one. */
function idempotencyKeyOf(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header.trim())) {
    throw ApiError.invalid(
      'Invalid Idempotency-Key header: one value of 1 to 255 visible ASCII characters.',
      'Idempotency-Key',
    );
  }
  return header.trim();
}

/** The create's parameters, independent of key order: a retry with the same body has the same print. */
function fingerprintOf(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(body ?? {})))
    .digest('base64url');
}

export interface BatchesDeps {
  batches: BatchService;
  files: FileRepository;
  completionWindows: string[];
  /** max_active_batches of the caller's tenant. */
  quota: ActiveBatchQuota;
  options: BatchOptionsDeps;
}

export function registerBatchRoutes(app: FastifyInstance, deps: BatchesDeps): void {
  const { batches, files } = deps;

  app.post('/v1/batches', async (req) => {
    // reportInput lets ApiError.fromZod tell a missing parameter from one of the wrong type.
    const parsed = CreateBatchBody.safeParse(req.body ?? {}, { reportInput: true });
    if (!parsed.success) throw ApiError.fromZod(parsed.error);
    const body = parsed.data;
    const endpoint = checkEndpoint(body.endpoint);
    const windowSeconds = checkCompletionWindow(body.completion_window, deps.completionWindows);
    const tenant = tenantOf(req);
    // One quota check (max_active_batches) right before a batch is really started.
    return deps.quota.run(identityOf(req), async (admit) => {
      // The file is checked here, not before an idempotent lookup: a retry finds its batch even if
      // the input file was deleted meanwhile.
      const prepare = async (batchId: string, seq: number): Promise<BatchWorkflowInput> => {
        const file = await requireBatchInputFile(files, tenant, body.input_file_id);
        await admit();
        const createdAt = Math.floor(seq / 1e6);
        const options = await buildBatchOptions(deps.options, req, tenant, batchId, body);
        return {
          batchId,
          tenant,
          endpoint,
          inputFileId: file.id,
          completionWindow: body.completion_window,
          createdAt,
          expiresAt: createdAt + windowSeconds,
          metadata: body.metadata ?? null,
          outputTtlSeconds: body.output_expires_after?.seconds ?? null,
          options,
        };
      };
      const key = idempotencyKeyOf(req.headers['idempotency-key']);
      if (key === null) {
        const seq = newCreationSeq();
        return batches.start(await prepare(newBatchId(), seq), { seq });
      }
      const result = await batches.startIdempotent(
        tenant,
        { key, fingerprint: fingerprintOf(req.body) },
        prepare,
      );
      if (result.kind === 'mismatch') {
        // 422 as the IETF Idempotency-Key draft says (the openai clients also retry a 409 on their own).
        throw new ApiError(
          422,
          'invalid_request_error',
          `This Idempotency-Key was already used for a batch created with other parameters ` +
            `(${result.batch.id}); use a new key for a new batch.`,
          null,
          'idempotency_key_reused',
        );
      }
      return result.batch;
    });
  });

  app.get('/v1/batches', async (req) => {
    const q = ListBatchesQuery.safeParse(req.query);
    if (!q.success) throw ApiError.fromZod(q.error);
    const page = await batches.list(tenantOf(req), q.data);
    return listPage(page.data, page.hasMore);
  });

  app.get('/v1/batches/:id', async (req) => {
    const { id } = IdParams.parse(req.params);
    const batch = await batches.get(tenantOf(req), id);
    if (!batch) throw ApiError.notFound('batch', id);
    return batch;
  });

  app.post('/v1/batches/:id/cancel', async (req) => {
    const { id } = IdParams.parse(req.params);
    const result = await batches.cancel(tenantOf(req), id);
    if (result.kind === 'not_found') throw ApiError.notFound('batch', id);
    if (result.kind === 'conflict') {
      throw new ApiError(
        409,
        'invalid_request_error',
        `Cannot cancel a batch with status '${result.batch.status}'.`,
        null,
        'batch_not_cancellable',
      );
    }
    return result.batch;
  });

  // Pause and resume (our extension): 200 with the Batch, idempotent; 409 once it is stopping or done.
  for (const [action, paused, code] of [
    ['pause', true, 'batch_not_pausable'],
    ['resume', false, 'batch_not_resumable'],
  ] as const) {
    app.post(`/v1/batches/:id/${action}`, async (req) => {
      const { id } = IdParams.parse(req.params);
      const result = await batches.setPaused(tenantOf(req), id, paused);
      if (result.kind === 'not_found') throw ApiError.notFound('batch', id);
      if (result.kind === 'conflict') {
        throw new ApiError(
          409,
          'invalid_request_error',
          `Cannot ${action} a batch with status '${result.batch.status}'.`,
          null,
          code,
        );
      }
      return result.batch;
    });
  }
}
