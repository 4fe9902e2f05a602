// GET /openapi.json: the OpenAPI 3.1 document of this API (no API key, like /health).
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type DocumentOptions } from './document';

export const OPENAPI_PATH = '/openapi.json';

export function registerOpenApiRoute(app: FastifyInstance, opts: DocumentOptions = {}): void {
  // Serialized once: the routes and their schemas are fixed for the life of the process.
  let body: string | null = null;
  app.get(OPENAPI_PATH, async (_req, reply) => {
    body ??= JSON.stringify(buildOpenApiDocument(opts));
    return reply.header('content-type', 'application/json; charset=utf-8').send(body);
  });
}
