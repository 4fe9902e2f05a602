import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * V8 flags of a worker process, as `npm run worker` passes them (package.json; keep the two in
 * step): a capped old generation makes V8 collect before the heap grows, which keeps the
 * resident set flat under a high allocation rate (BENCHMARKS.md: 450 → 289 MB peak at 200k lines),
 * and a young generation of 3 × 12 MB instead of 3 × 16 (−14 MB at the peak, no CPU cost measured).
 */
export const WORKER_NODE_FLAGS: string[] = ['--max-old-space-size=256', '--max-semi-space-size=12'];

/**
 * V8 flags of an API process, as `npm run api` passes them: a small young generation, so the
 * buffers of an upload or a download streaming through do not grow it (BENCHMARKS.md: peak 158 →
 * 128 MB while 126 MB go up and down).
 */
export const API_NODE_FLAGS: string[] = ['--max-semi-space-size=2'];

export interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
  /** kill -9: no shutdown hooks, no goodbye. */
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Runs one of our entry points (`src/main/worker.ts`, `src/main/api.ts`, …) from TypeScript (tsx)
 * as its own OS process and resolves when a line of its output matches `ready`.
 */
export async function spawnEntry(
  name: string,
  script: string,
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<Proc> {
  return spawnNode(name, [...nodeArgs, '--import', 'tsx', script], env, ready);
}

/** The compiled output of `npm run build`. */
export const DIST = resolve(ROOT, 'dist');

/**
 * Runs a compiled entry point, `node dist/<entry>.js` (e.g. entry 'main/worker'), with no tsx,
 * as `npm run worker` does; resolves when a line of its output matches `ready`.
 */
export async function spawnBuilt(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  nodeArgs: string[] = [],
): Promise<Proc> {
  const script = resolve(DIST, `${entry}.js`);
  if (!existsSync(script) || !existsSync(resolve(DIST, 'workflow-bundle.js')))
    throw new Error(`${script} or dist/workflow-bundle.js is missing: run npm run build first`);
  return spawnNode(name, [...nodeArgs, script], env, ready);
}

/** How long a process may take to print its ready line (PROC_START_TIMEOUT_MS: benches on a loaded machine). */
const START_TIMEOUT_MS = Number(process.env.PROC_START_TIMEOUT_MS ?? 60_000);

async function spawnNode(
  name: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => {
      // Not left running behind the failed start.
      child.kill('SIGKILL');
      rej(new Error(`${name} did not start within ${START_TIMEOUT_MS / 1000} s:\n${out.slice(-2000)}`));
    }, START_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${name} exited with ${code} before it was ready:\n${out.slice(-2000)}`));
    });
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    child,
    output: () => out,
    async kill9() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (gone()) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
