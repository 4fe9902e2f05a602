import type { FastifyRequest } from 'fastify';
import { identityOf } from './auth/authenticate';

/**
 * The tenant a request acts for, as the auth hook identified it (src/api/auth): every storage
 * path and batch lookup is scoped by it, so another tenant's id reads exactly like a missing one.
 */
export function tenantOf(req: FastifyRequest): string {
  return identityOf(req).tenant;
}
