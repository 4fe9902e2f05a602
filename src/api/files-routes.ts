import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../domain/api-error';
import { clip } from '../domain/clip';
import { ExpiresAfter } from '../domain/batch';
import { DEFAULT_FILE_TTL_SECONDS, FilePurpose, type FileDeleted, type StoredFile } from '../domain/file';
import { newFileId } from '../ids';
import type { FileRepository } from '../storage/file-repository';
import { toFileObject } from '../storage/file-repository';
import { layout } from '../storage/layout';
import { TooLargeError, type ObjectStore } from '../storage/object-store';
import { listPage } from './list-page';
import { tenantOf } from './tenant';

/** Query of GET /v1/files. */
export const ListFilesQuery = z.object({
  purpose: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  order: z.enum(['asc', 'desc']).default('desc'),
  after: z.string().optional(),
});

const IdParams = z.object({ id: z.string() });

/** Messages busboy (with its dicer and streamsearch parts) throws when the multipart body itself is malformed. */
const MALFORMED_MULTIPART =
  /^Multipart: |multipart data|^The needle |^Boundary required|^Unsupported Content-Type|^Missing Content-Type/;
const isMalformedMultipart = (err: unknown): boolean =>
  err instanceof Error &&
  !(err instanceof ApiError) &&
  !('statusCode' in err) &&
  MALFORMED_MULTIPART.test(err.message);

export interface FilesDeps {
  files: FileRepository;
  store: ObjectStore;
  maxUploadBytes: number;
}

export function registerFileRoutes(app: FastifyInstance, deps: FilesDeps): void {
  const { files, store } = deps;

  // Multipart upload, streamed straight into storage: the file is never held in memory.
  app.post('/v1/files', async (req, reply) => {
    if (!req.isMultipart())
      throw ApiError.invalid(
        'Expected a multipart/form-data body with fields `file` and `purpose`.',
        null,
        null,
      );
    const tenant = tenantOf(req);
    const id = newFileId();
    const fields: Record<string, string> = {};
    let upload: { filename: string; bytes: number } | null = null;
    try {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || upload) {
            part.file.resume();
            throw ApiError.invalid(
              `Unexpected file field '${clip(part.fieldname)}'.`,
              part.fieldname,
              'invalid_value',
            );
          }
          const { bytes } = await store.putStream(layout.fileContent(tenant, id), part.file, {
            maxBytes: deps.maxUploadBytes,
          });
          if (part.file.truncated) throw new TooLargeError(deps.maxUploadBytes);
          upload = { filename: part.filename || 'upload', bytes };
        } else {
          fields[part.fieldname] = String(part.value);
        }
      }
      if (!upload)
        throw ApiError.invalid("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
      const purposeRaw = fields.purpose;
      if (!purposeRaw)
        throw ApiError.invalid(
          "Missing required parameter: 'purpose'.",
          'purpose',
          'missing_required_parameter',
        );
      const purpose = FilePurpose.safeParse(purposeRaw);
      if (!purpose.success) {
        throw ApiError.invalid(
          `Invalid value for 'purpose': '${clip(purposeRaw)}' is not one of ${FilePurpose.options.join(', ')}.`,
          'purpose',
        );
      }
      if (purpose.data === 'batch' && !upload.filename.toLowerCase().endsWith('.jsonl')) {
        throw ApiError.invalid(
          'Invalid file format for Batch API. Must be .jsonl',
          'file',
          'invalid_file_format',
        );
      }
      let ttl: number | null = purpose.data === 'batch' ? DEFAULT_FILE_TTL_SECONDS : null;
      if (fields['expires_after[anchor]'] !== undefined || fields['expires_after[seconds]'] !== undefined) {
        const parsed = ExpiresAfter.safeParse({
          anchor: fields['expires_after[anchor]'],
          seconds: fields['expires_after[seconds]'],
        });
        if (!parsed.success) throw ApiError.fromZod(parsed.error, 'expires_after.');
        ttl = parsed.data.seconds;
      }
      const now = Math.floor(Date.now() / 1000);
      const file: StoredFile = {
        id,
        object: 'file',
        bytes: upload.bytes,
        created_at: now,
        filename: upload.filename,
        purpose: purpose.data,
        status: 'processed',
        expires_at: ttl === null ? null : now + ttl,
        status_details: null,
        tenant,
      };
      await files.save(file);
      return reply.send(toFileObject(file));
    } catch (err) {
      await store.delete(layout.fileContent(tenant, id));
      if (err instanceof TooLargeError || (err as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new ApiError(
          413,
          'invalid_request_error',
          `File is larger than the maximum of ${deps.maxUploadBytes} bytes.`,
          'file',
          'file_too_large',
        );
      }
      // busboy throws plain Errors for a broken body (no or bad boundary, truncated parts): a 400, not a 500.
      if (isMalformedMultipart(err)) {
        throw ApiError.invalid(
          `Malformed multipart/form-data body: ${(err as Error).message}.`,
          null,
          'invalid_multipart',
        );
      }
      throw err;
    }
  });

  app.get('/v1/files', async (req) => {
    const q = ListFilesQuery.safeParse(req.query);
    if (!q.success) throw ApiError.fromZod(q.error);
    const page = await files.list(tenantOf(req), q.data);
    return listPage(page.data.map(toFileObject), page.hasMore);
  });

  app.get('/v1/files/:id', async (req) => {
    const { id } = IdParams.parse(req.params);
    const file = await files.get(tenantOf(req), id);
    if (!file) throw ApiError.notFound('file', id);
    return toFileObject(file);
  });

  app.delete('/v1/files/:id', async (req) => {
    const { id } = IdParams.parse(req.params);
    if (!(await files.delete(tenantOf(req), id))) throw ApiError.notFound('file', id);
    return { id, object: 'file', deleted: true } satisfies FileDeleted;
  });

  app.get('/v1/files/:id/content', async (req, reply) => {
    const { id } = IdParams.parse(req.params);
    const tenant = tenantOf(req);
    const file = await files.get(tenant, id);
    const stream = file ? await files.content(tenant, id) : null;
    if (!file || !stream) throw ApiError.notFound('file', id);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', file.bytes)
      .send(stream);
  });
}
