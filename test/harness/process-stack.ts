import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';
import { freePort } from './ports';
import { processEnv } from './process-env';
import { onS3, s3Env } from './s3-server';
import { API_NODE_FLAGS, spawnBuilt, spawnEntry, WORKER_NODE_FLAGS, type Proc } from './processes';

export interface ProcessStack {
  openai: OpenAI;
  client: Client;
  sim: Simulator;
  workers: Proc[];
  api: Proc;
  /** The task queue the workers poll (for batches started from Temporal). */
  taskQueue: string;
  /** Starts one more worker process on the stack's task queue (it is added to `workers`). */
  addWorker(): Promise<Proc>;
  close(): Promise<void>;
}

/**
 * Our API and any number of workers as separate OS processes (so a test can kill -9 a worker),
 * sharing one data directory (or S3 prefix) and task queue; the gateway simulator runs in the test process so
 * its counters can be read directly.
 */
export async function startProcessStack(opts: {
  temporalAddress: string;
  workers: number;
  env?: Record<string, string>;
  sim?: Partial<SimulatorOptions>;
  /** Run the compiled entry points (`node dist/main/*.js`, spawnBuilt) instead of tsx. */
  built?: boolean;
}): Promise<ProcessStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-procs-'));
  const sim = await startSimulator({ port: 0, latencyMs: 5, ...opts.sim });
  const apiPort = await freePort();
  const env = processEnv(
    { temporalAddress: opts.temporalAddress, dataDir, gatewayUrl: sim.url, apiPort },
    {
      // TEST_STORAGE=s3: every process on the run's versitygw, under a prefix of this stack's own.
      ...(onS3() ? s3Env(`procs-${randomBytes(6).toString('hex')}`) : {}),
      ...opts.env,
    },
  );
  const workers: Proc[] = [];
  const procs: Proc[] = [];
  const run = (name: 'worker' | 'api', ready: RegExp, nodeArgs: string[] = []) =>
    opts.built
      ? spawnBuilt(name, `main/${name}`, env, ready, nodeArgs)
      : spawnEntry(name, `src/main/${name}.ts`, env, ready, nodeArgs);
  const addWorker = async () => {
    const p = await run('worker', /polling task queue/, WORKER_NODE_FLAGS);
    procs.push(p);
    workers.push(p);
    return p;
  };
  const [api] = await Promise.all([
    run('api', /listening on/, API_NODE_FLAGS),
    ...Array.from({ length: opts.workers }, addWorker),
  ]);
  procs.push(api);
  const connection = await Connection.connect({ address: opts.temporalAddress });
  return {
    openai: new OpenAI({ baseURL: `http://127.0.0.1:${apiPort}/v1`, apiKey: 'x', maxRetries: 0 }),
    client: new Client({ connection }),
    sim,
    workers,
    api,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    addWorker,
    async close() {
      await Promise.all(procs.map((p) => p.stop()));
      await connection.close();
      await sim.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
