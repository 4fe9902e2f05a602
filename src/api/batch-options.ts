import type { FastifyRequest } from 'fastify';
import type { CreateBatchBody } from '../domain/batch';
import type { BatchOptions } from '../domain/batch-state';
import { extensionOptions } from '../governance/extension-options';
import { capturePassthroughHeaders } from '../security/passthrough-headers';
import { identityOf } from './auth/authenticate';
import type { SecretBox } from '../security/secret-box';
import type { ObjectStore } from '../storage/object-store';
import { sealWebhookTarget, type WebhookTarget } from '../webhooks/target';

export interface BatchOptionsDeps {
  store: ObjectStore;
  /** Lower-case names of client headers passed through to the gateway (PASSTHROUGH_HEADERS). */
  passthroughHeaders: string[];
  /** Seals captured headers at rest. */
  secrets: SecretBox;
  /** GATEWAY_TENANT_HEADER (lower-case; empty: none): set from the tenant, so never captured from the client. */
  gatewayTenantHeader?: string;
  /** The deployment's webhook (WEBHOOK_URL, WEBHOOK_SECRET), for tenants without one of their own. */
  webhook?: WebhookTarget | null;
}

/**
 * The governance options of a new batch, from the create body's `x_` extensions and the
 * request's headers. Large or secret values are written to storage and referenced by key.
 * Throws ApiError (400) for invalid options.
 */
export async function buildBatchOptions(
  deps: BatchOptionsDeps,
  req: FastifyRequest,
  tenant: string,
  batchId: string,
  body: CreateBatchBody,
): Promise<BatchOptions> {
  // Validated before anything else is stored, so a bad schema leaves nothing behind.
  const options = await extensionOptions(deps.store, tenant, batchId, body);
  const headersKey = await capturePassthroughHeaders(
    deps.store,
    deps.secrets,
    deps.passthroughHeaders,
    req.headers,
    tenant,
    batchId,
    deps.gatewayTenantHeader ? [deps.gatewayTenantHeader] : [],
  );
  if (headersKey) options.headersKey = headersKey;
  // The tenant's share of upstream capacity, as its API key says at creation (the workers read it).
  const { weight, maxInFlight, webhook } = identityOf(req);
  options.tenantShare = { weight, maxInFlight };
  // The tenant's webhook (keys file), else the deployment's: sealed, the workflow gets its key only.
  const target = webhook ?? deps.webhook ?? null;
  if (target) options.webhookKey = await sealWebhookTarget(deps.store, deps.secrets, tenant, target);
  return options;
}
