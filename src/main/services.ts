import { secretBoxFor } from '../security/secret-box';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import type { FastifyInstance } from 'fastify';
import { BatchService } from '../api/batch-service';
import { buildApiServer } from '../api/server';
import type { Config } from '../config';
import { FileRepository } from '../storage/file-repository';
import { FsObjectStore } from '../storage/fs-store';
import type { ObjectStore } from '../storage/object-store';
import { createBatchWorker } from '../worker';

// Builders shared by every entry point (embedded, api, worker) and by the tests.

export function storageFor(config: Config): ObjectStore {
  return new FsObjectStore(join(resolve(config.DATA_DIR), 'storage'));
}

export async function startApi(
  config: Config,
  store: ObjectStore = storageFor(config),
): Promise<{ app: FastifyInstance; url: string; close(): Promise<void> }> {
  // Lazy: the API starts (and /health answers 503) even while Temporal is unreachable.
  const connection = Connection.lazy({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const files = new FileRepository(store);
  const app = await buildApiServer({
    store,
    files,
    batches: new BatchService(client, config.TEMPORAL_TASK_QUEUE, store, config.IDEMPOTENCY_KEY_TTL_S),
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    completionWindows: config.COMPLETION_WINDOWS,
    passthroughHeaders: config.PASSTHROUGH_HEADERS.map((h) => h.toLowerCase()),
    secrets: secretBoxFor(config),
    logLevel: config.LOG_LEVEL,
  });
  const url = await app.listen({ port: config.PORT, host: config.HOST });
  return {
    app,
    url,
    async close() {
      await app.close();
      await connection.close();
    },
  };
}

/** Bundles the workflow code in a child process (see bundle-workflows.ts) and returns the file. */
export async function buildWorkflowBundle(dataDir: string): Promise<string> {
  const dir = join(resolve(dataDir), 'worker');
  mkdirSync(dir, { recursive: true });
  const out = join(dir, 'workflow-bundle.js');
  const script = resolve(__dirname, '../temporal/bundle-workflows.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script, out], {
    stdio: ['ignore', 'inherit', 'inherit'],
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
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const codePath = await buildWorkflowBundle(config.DATA_DIR);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const { worker, runtime } = await createBatchWorker({
    config,
    store,
    gatewayUrl,
    connection,
    workflowBundle: { codePath },
  });
  const running = worker.run();
  return {
    worker,
    runtime,
    running,
    async close() {
      worker.shutdown();
      await running;
      await runtime.gateway.close();
      await connection.close();
    },
  };
}

/** Port of a host:port address. */
export const portOf = (address: string): number => Number(address.split(':').pop());
