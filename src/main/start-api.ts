import { secretBoxFor } from '../security/secret-box';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { authSettingsOf, checkExposure, isLoopback } from '../api/auth/authenticate';
import { BatchService } from '../api/batch-service';
import { webUiLinkOf } from '../api/console-route';
import { buildApiServer } from '../api/server';
import { tracingClientInterceptors } from '../observability/tracing-temporal';
import type { Config } from '../config';
import { FileRepository } from '../storage/file-repository';
import type { ObjectStore } from '../storage/object-store';
import { temporalConnectionOptions } from '../temporal/connection';
import { deploymentWebhook } from '../webhooks/target';
import { checkStorage, storageFor } from './services';

// The API process: the HTTP façade and its Temporal client (no worker code is loaded).

/**
 * The API on HOST:PORT. Throws a one-line ConfigError, before binding anything, for contradicting
 * auth settings, a bad API_KEYS_FILE, or no authentication on a non-loopback HOST without
 * ALLOW_UNAUTHENTICATED. `authLine` says how callers are identified; SIGHUP reloads the keys.
 */
export async function startApi(
  config: Config,
  store: ObjectStore = storageFor(config),
): Promise<{ app: FastifyInstance; url: string; authLine: string; close(): Promise<void> }> {
  const auth = authSettingsOf(config);
  checkExposure(auth, config);
  await checkStorage(store);
  // Lazy: the API starts (and /health answers 503) even while Temporal is unreachable.
  const connection = Connection.lazy(temporalConnectionOptions(config));
  // With tracing on, a workflow start or signal carries the HTTP request's trace.
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    interceptors: tracingClientInterceptors(),
  });
  const files = new FileRepository(store);
  const passthroughHeaders = config.PASSTHROUGH_HEADERS.map((h) => h.toLowerCase());
  const app = await buildApiServer({
    store,
    files,
    batches: new BatchService(client, config.TEMPORAL_TASK_QUEUE, store, config.IDEMPOTENCY_KEY_TTL_S),
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    completionWindows: config.COMPLETION_WINDOWS,
    passthroughHeaders,
    secrets: secretBoxFor(config),
    auth,
    gatewayTenantHeader: config.GATEWAY_TENANT_HEADER,
    logLevel: config.LOG_LEVEL,
    webUi: webUiLinkOf(config),
    webhook: deploymentWebhook(config),
  }).catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  if (config.GATEWAY_TENANT_HEADER && passthroughHeaders.includes(config.GATEWAY_TENANT_HEADER))
    app.log.warn(
      `PASSTHROUGH_HEADERS lists ${config.GATEWAY_TENANT_HEADER}: it is never taken from clients, ` +
        'GATEWAY_TENANT_HEADER sets it from the tenant',
    );
  const reload = () => void app.auth.reload();
  if (auth.mode === 'keys') process.on('SIGHUP', reload);
  let url: string;
  try {
    url = await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    process.off('SIGHUP', reload);
    await app.close();
    await connection.close();
    throw err;
  }
  let authLine = app.auth.describe();
  if (auth.mode === 'none')
    authLine += isLoopback(config.HOST)
      ? ' (loopback only: set API_KEYS_FILE to serve several teams)'
      : ` on ${config.HOST}, because ALLOW_UNAUTHENTICATED=true`;
  return {
    app,
    url,
    authLine,
    async close() {
      process.off('SIGHUP', reload);
      await app.close();
      await connection.close();
    },
  };
}
