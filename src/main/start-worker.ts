import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { createLogger } from '../observability/logger';
import { activeTracing, traceFields } from '../observability/tracing';
import { installWorkerRuntime } from '../observability/metrics-runtime';
import { startMetricsServer } from '../observability/metrics-server';
import { ConfigError, type Config } from '../config';
import type { ObjectStore } from '../storage/object-store';
import { connectWorker } from '../temporal/worker-connection';
import { startGcSchedule } from '../temporal/gc-schedule';
import { createBatchWorker } from '../temporal/worker';
import { checkStorage, storageFor } from './services';

// The worker process: the workflow bundle and the batch worker.

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
