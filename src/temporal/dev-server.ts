import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/definitions';
import { findTemporalCli } from './cli-path';

export interface DevServerOptions {
  port: number;
  uiPort: number;
  namespace: string;
  /** SQLite file that keeps state across restarts; omit for an in-memory server. */
  dbFile?: string;
  /** `--dynamic-config-value` pairs, e.g. { 'limit.historyCount.suggestContinueAsNew': 200 }. */
  dynamicConfig?: Record<string, string | number | boolean>;
  headless?: boolean;
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  process: ChildProcess;
  stop(): Promise<void>;
}

// One task-queue partition: a task scheduled while no worker polled is not left waiting 0.5–0.8 s
// to be forwarded between partitions (the cold start, BENCHMARKS.md).
const FAST_DISPATCH = {
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/**
 * Starts `temporal server start-dev` with every search attribute the app uses registered,
 * and resolves once the namespace answers.
 */
export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = findTemporalCli();
  if (!cli)
    throw new Error('the temporal CLI was not found: run `npm run setup` first (or set TEMPORAL_CLI_PATH)');
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(opts.port),
    '--namespace',
    opts.namespace,
    '--log-level',
    'warn',
  ];
  if (opts.headless) args.push('--headless');
  else args.push('--ui-port', String(opts.uiPort));
  if (opts.dbFile) {
    mkdirSync(dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
    args.push('--search-attribute', `${name}=${type}`);
  // One partition per task queue: a task scheduled while no worker polled (a batch created before
  // its worker started) sits in one partition's backlog, and a poller of another partition waits
  // for it to be forwarded — ~0.5–0.8 s of a cold start. One machine needs no more partitions.
  const dynamicConfig = { ...FAST_DISPATCH, ...opts.dynamicConfig };
  for (const [key, value] of Object.entries(dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  const child = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = opts.log ?? (() => undefined);
  child.stdout?.on('data', (d: Buffer) => log(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log(d.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const address = `127.0.0.1:${opts.port}`;

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`temporal dev server exited with code ${child.exitCode}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: opts.namespace });
        break;
      } finally {
        await conn.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal dev server did not become ready: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: opts.headless ? null : `http://127.0.0.1:${opts.uiPort}`,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
