import { secretBoxFor } from '../security/secret-box';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { authSettingsOf, checkExposure, isLoopback } from '../api/auth/authenticate';
import { BatchService } from '../api/batch-service';
import { webUiLinkOf } from '../api/console-route';
import { buildApiServer } from '../api/server';
import { createLogger } from '../observability/logger';
import { activeTracing, traceFields } from '../observability/tracing';
import { installWorkerRuntime } from '../observability/metrics-runtime';
import { startMetricsServer } from '../observability/metrics-server';
import { tracingClientInterceptors } from '../observability/tracing-temporal';
import { ConfigError, type Config } from '../config';
import { FileRepository } from '../storage/file-repository';
import { FsObjectStore } from '../storage/fs-store';
import { S3ObjectStore } from '../storage/s3-store';
import type { ObjectStore } from '../storage/object-store';
import { temporalConnectionOptions } from '../temporal/connection';
import { connectWorker } from '../temporal/worker-connection';
import { startGcSchedule } from '../temporal/gc-schedule';
import { createBatchWorker } from '../temporal/worker';
import { deploymentWebhook } from '../webhooks/target';

// Builders shared by every entry point (embedded, api, worker) and by the tests.

export function storageFor(config: Config): ObjectStore {
  if (config.STORAGE_URL)
    return new S3ObjectStore({
      url: config.STORAGE_URL,
      endpoint: config.AWS_ENDPOINT_URL,
      region: config.AWS_REGION,
    });
  return new FsObjectStore(join(resolve(config.DATA_DIR), 'storage'));
}

/** At start: an S3 bucket that does not exist or answer is one clear line (a ConfigError), not a retry loop. */
export async function checkStorage(store: ObjectStore): Promise<void> {
  if (store instanceof S3ObjectStore) await store.checkBucket();
}

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

/** The ahead-of-time workflow bundle `npm run build` makes (dist/workflow-bundle.js). */
export const PREBUILT_BUNDLE = resolve(__dirname, '../workflow-bundle.js');

/**
 * The workflow bundle a worker loads. Compiled (dist/): the one `npm run build` made, so no webpack
 * and no bundling at start. From TypeScript (tsx): bundled in a child process (bundle-workflows.ts)
 * into DATA_DIR/worker, again only when an input changed since the last bundle there.
 */
export async function buildWorkflowBundle(dataDir: string): Promise<string> {
  if (__filename.endsWith('.js')) {
    if (!existsSync(PREBUILT_BUNDLE))
      throw new ConfigError(`${PREBUILT_BUNDLE} is missing: run npm run build`);
    return PREBUILT_BUNDLE;
  }
  const dir = join(resolve(dataDir), 'worker');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'workflow-bundle.js');
  const script = resolve(__dirname, '../temporal/bundle-workflows.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, out, '--if-stale'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`bundling the workflow code failed (exit ${code})`);
  return out;
}

export async function startWorker(
  config: Config,
  gatewayUrl: string,
  store: ObjectStore = storageFor(config),
) {
  await checkStorage(store);
  // JSON lines at LOG_LEVEL; the SDK's own logs join them at WARN, its metrics METRICS_PORT's /metrics.
  // With tracing on, lines logged inside an activity carry its trace_id and span_id.
  const logger = createLogger(config, activeTracing() ? { mixin: traceFields } : {});
  const sdkMetricsUrl = await installWorkerRuntime(config, logger);
  // Connect first: a refused connection (TLS, API key) is reported in a moment, not after bundling.
  const connection = await connectWorker(config);
  const codePath = await buildWorkflowBundle(config.DATA_DIR);
  const { worker, runtime } = await createBatchWorker({
    config,
    store,
    gatewayUrl,
    connection,
    workflowBundle: { codePath },
    logger,
  });
  const metrics =
    config.METRICS_PORT === undefined
      ? null
      : await startMetricsServer({
          port: config.METRICS_PORT,
          host: config.METRICS_HOST,
          healthy: () => ({ ok: worker.getState() === 'RUNNING', state: worker.getState() }),
          temporalMetricsUrl: sdkMetricsUrl ?? undefined,
        });
  // The metrics server lives as long as the worker runs (so the process can exit after it).
  const running = worker.run().finally(() => metrics?.close());
  await startGcSchedule(config);
  return {
    worker,
    runtime,
    running,
    /** The workflow bundle file this worker loaded. */
    bundle: codePath,
    async close() {
      // The SDK starts its own shutdown on SIGINT/SIGTERM: a second shutdown() would throw.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await runtime.gateway.close();
      await connection.close();
    },
  };
}

/** Port of a host:port address. */
export const portOf = (address: string): number => Number(address.split(':').pop());
