// The production-shaped stack: the Temporal server on PostgreSQL, S3 storage, N worker and M API processes, a gateway.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/server';
import { freePort } from './ports';
import { processEnv, s3EnvOf, type S3Endpoint } from './process-env';
import { API_NODE_FLAGS, spawnBuilt, spawnEntry, WORKER_NODE_FLAGS, type Proc } from './processes';
import { startTemporalCluster, type TemporalCluster, type TemporalClusterOptions } from './temporal-cluster';

export interface ScaleOutApi {
  proc: Proc;
  /** http://127.0.0.1:<port> (the OpenAI base URL is `${url}/v1`). */
  url: string;
  openai: OpenAI;
}

export interface ScaleOutStack {
  cluster: TemporalCluster;
  /** A client of the cluster's namespace, connected as the stack's processes are (TLS included). */
  client: Client;
  /** The simulator in this process, unless a gateway URL was given. */
  sim?: Simulator;
  gatewayUrl: string;
  workers: Proc[];
  apis: ScaleOutApi[];
  /** The environment every worker and API got (apart from each API's PORT). */
  env: Record<string, string>;
  taskQueue: string;
  /** Starts one more worker on the stack's task queue (added to `workers`). */
  addWorker(): Promise<Proc>;
  close(): Promise<void>;
}

export interface ScaleOutStackOptions {
  workers: number;
  apis: number;
  /** TLS of the Temporal frontend (default mtls: every process presents a client certificate). */
  tls?: TemporalClusterOptions['tls'];
  /** The S3-compatible server (and bucket) the processes store everything in, under a fresh prefix. */
  s3: S3Endpoint;
  /** Settings for every worker and API (e.g. GLOBAL_CONCURRENCY). */
  env?: Record<string, string>;
  /** A real gateway instead of the in-process simulator. */
  gatewayUrl?: string;
  sim?: Partial<SimulatorOptions>;
  /** Ports of the APIs, in order (default: free ports). */
  apiPorts?: number[];
  /** Run the compiled entry points (`node dist/main/*.js`, after `npm run build`) instead of TypeScript through tsx. */
  compiled?: boolean;
  /** Called with each process's output lines (e.g. to show them); the harness keeps them anyway. */
  onOutput?: (name: string, line: string) => void;
}

/**
 * Starts the whole stack. Every worker and API is its own OS process (so a test can kill -9 one),
 * all on one task queue and one S3 prefix; Temporal is the real server on PostgreSQL
 * (test/harness/temporal-cluster.ts), reached with the TLS settings its `env` carries.
 */
export async function startScaleOutStack(opts: ScaleOutStackOptions): Promise<ScaleOutStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-scale-'));
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const [cluster, sim] = await Promise.all([
      startTemporalCluster({ tls: opts.tls ?? 'mtls' }),
      opts.gatewayUrl ? undefined : startSimulator({ port: 0, latencyMs: 5, ...opts.sim }),
    ]);
    cleanups.push(() => cluster.close());
    if (sim) cleanups.push(() => sim.close());
    const gatewayUrl = opts.gatewayUrl ?? sim!.url;
    const apiPorts = opts.apiPorts ?? [];
    while (apiPorts.length < opts.apis) {
      const p = await freePort();
      if (!apiPorts.includes(p)) apiPorts.push(p);
    }
    const env = processEnv(
      { temporalAddress: cluster.address, dataDir, gatewayUrl, apiPort: apiPorts[0] },
      { ...cluster.env, ...s3EnvOf(opts.s3, `scale-${randomBytes(6).toString('hex')}`), ...opts.env },
    );
    const procs: Proc[] = [];
    cleanups.push(() => Promise.all(procs.map((p) => p.stop())).then(() => undefined));
    const spawn = async (
      name: string,
      entry: string,
      extra: Record<string, string>,
      ready: RegExp,
      flags?: string[],
    ) => {
      const p = opts.compiled
        ? await spawnBuilt(name, entry, { ...env, ...extra }, ready, flags)
        : await spawnEntry(name, `src/${entry}.ts`, { ...env, ...extra }, ready, flags);
      procs.push(p);
      if (opts.onOutput) forwardLines(p, opts.onOutput);
      return p;
    };
    const workers: Proc[] = [];
    let named = 0;
    const addWorker = async () => {
      const p = await spawn(`worker-${++named}`, 'main/worker', {}, /polling task queue/, WORKER_NODE_FLAGS);
      workers.push(p);
      return p;
    };
    const startApi = async (port: number, i: number): Promise<ScaleOutApi> => {
      const proc = await spawn(
        `api-${i + 1}`,
        'main/api',
        { PORT: String(port) },
        /listening on/,
        API_NODE_FLAGS,
      );
      const url = `http://127.0.0.1:${port}`;
      return { proc, url, openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 }) };
    };
    // The first worker bundles the workflow code into the shared DATA_DIR (beside the APIs
    // starting); the others find it up to date. All settled before a failure is thrown, so none
    // is left running behind it.
    const settle = async (all: Promise<unknown>[]) => {
      const results = await Promise.allSettled(all);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return results.map((r) => (r as PromiseFulfilledResult<unknown>).value);
    };
    const started = await settle([
      ...apiPorts.slice(0, opts.apis).map(startApi),
      ...(opts.workers > 0 ? [addWorker()] : []),
    ]);
    await settle(Array.from({ length: Math.max(0, opts.workers - 1) }, addWorker));
    const apis = started.slice(0, opts.apis) as ScaleOutApi[];
    const connection = await Connection.connect(cluster.connectionOptions);
    cleanups.push(() => connection.close());
    return {
      cluster,
      client: new Client({ connection, namespace: cluster.namespace }),
      sim,
      gatewayUrl,
      workers,
      apis,
      env,
      taskQueue: env.TEMPORAL_TASK_QUEUE,
      addWorker,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Hands each complete output line of `p` from now on to `onLine`. */
function forwardLines(p: Proc, onLine: (name: string, line: string) => void): void {
  let rest = p.output();
  const emit = (chunk: string) => {
    rest += chunk;
    const lines = rest.split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) onLine(p.name, l);
  };
  emit('');
  p.child.stdout?.on('data', (d: Buffer) => emit(d.toString()));
  p.child.stderr?.on('data', (d: Buffer) => emit(d.toString()));
}
