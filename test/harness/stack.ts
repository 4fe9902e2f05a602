import { secretBoxFor } from '../../src/security/secret-box';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import OpenAI from 'openai';
import { inject } from 'vitest';
import { authSettingsOf } from '../../src/api/auth/authenticate';
import { BatchService } from '../../src/api/batch-service';
import { buildApiServer } from '../../src/api/server';
import { loadConfig, type Config } from '../../src/config';
import type { Logger } from '../../src/observability/logger';
import { startMetricsServer, type MetricsServer } from '../../src/observability/metrics-server';
import { tracingClientInterceptors } from '../../src/observability/tracing-temporal';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';
import { FileRepository } from '../../src/storage/file-repository';
import { FsObjectStore } from '../../src/storage/fs-store';
import type { S3ObjectStore } from '../../src/storage/s3-store';
import { createBatchWorker } from '../../src/temporal/worker';
import { deploymentWebhook } from '../../src/webhooks/target';
import { onS3, s3Env, s3Store } from './s3-server';

export interface Stack {
  config: Config;
  /** Base URL of our API, e.g. http://127.0.0.1:1234 (append /v1 for the openai client). */
  apiUrl: string;
  openai: OpenAI;
  sim: Simulator;
  client: Client;
  /** The filesystem store, or S3 (a prefix of its own in the run's bucket) when TEST_STORAGE=s3. */
  store: FsObjectStore | S3ObjectStore;
  /** The worker's metrics server (/metrics, /health) when env sets METRICS_PORT (0: any free port). */
  workerMetrics: MetricsServer | null;
  close(): Promise<void>;
}

/**
 * A whole product for one test file: our API over real HTTP, a real worker on its own task
 * queue against the shared Temporal dev server, the real filesystem store (or the run's versitygw
 * when TEST_STORAGE=s3, see s3-server.ts), and the gateway simulator.
 */
export async function startStack(
  env: Record<string, string> = {},
  simOptions: Partial<SimulatorOptions> = {},
  /** `logger`: where the worker's batch state-change lines go (tests read them). */
  workerOptions: { logger?: Logger } = {},
): Promise<Stack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-stack-'));
  const s3Prefix = `stack-${randomBytes(6).toString('hex')}`;
  const sim = await startSimulator({ port: 0, latencyMs: 5, ...simOptions });
  const config = loadConfig({
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: `test-${randomBytes(6).toString('hex')}`,
    DATA_DIR: dataDir,
    PORT: '0',
    GATEWAY_URL: sim.url,
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '200',
    LOG_LEVEL: 'warn',
    ...(onS3() ? s3Env(s3Prefix) : {}),
    ...env,
  });
  const store = onS3() ? s3Store(s3Prefix) : new FsObjectStore(join(dataDir, 'storage'));
  const nativeConnection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const { worker, runtime } = await createBatchWorker({
    config,
    store,
    gatewayUrl: config.GATEWAY_URL ?? sim.url,
    connection: nativeConnection,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    logger: workerOptions.logger,
  });
  // As startWorker serves it (without the SDK's exporter: this process's Runtime has none).
  const workerMetrics =
    config.METRICS_PORT === undefined
      ? null
      : await startMetricsServer({
          port: config.METRICS_PORT,
          host: '127.0.0.1',
          healthy: () => ({ ok: worker.getState() === 'RUNNING', state: worker.getState() }),
        });
  const running = worker.run();
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  // When a test started tracing (test/tracing.test.ts), workflow starts carry the request's trace.
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    interceptors: tracingClientInterceptors(),
  });
  const app = await buildApiServer({
    store,
    files: new FileRepository(store),
    batches: new BatchService(client, config.TEMPORAL_TASK_QUEUE, store),
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    completionWindows: config.COMPLETION_WINDOWS,
    passthroughHeaders: config.PASSTHROUGH_HEADERS.map((h) => h.toLowerCase()),
    secrets: secretBoxFor(config),
    // API_KEYS_FILE / AUTH_MODE / TENANT_HEADER / GATEWAY_TENANT_HEADER as the API takes them.
    auth: authSettingsOf(config),
    gatewayTenantHeader: config.GATEWAY_TENANT_HEADER,
    webhook: deploymentWebhook(config),
    logLevel: 'warn',
  });
  const apiUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  const openai = new OpenAI({ baseURL: `${apiUrl}/v1`, apiKey: 'test-key', maxRetries: 0 });
  return {
    config,
    apiUrl,
    openai,
    sim,
    client,
    store,
    workerMetrics,
    async close() {
      await app.close();
      worker.shutdown();
      await running;
      await workerMetrics?.close();
      await runtime.gateway.close();
      await nativeConnection.close();
      await connection.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
