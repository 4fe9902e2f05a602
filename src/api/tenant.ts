import type { FastifyRequest } from 'fastify';

/**
 * The tenant a request acts for. One tenant for now; multi-tenancy (keys → tenants) plugs in
 * here, and every storage path and batch lookup is already scoped by it.
 */
export function tenantOf(_req: FastifyRequest): string {
  return 'default';
}
