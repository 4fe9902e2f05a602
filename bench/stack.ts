// The benchmarks' stack, each part its own OS process: a Temporal dev server, the gateway
// simulator, our worker and our API; and the input files they run.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type OpenAI from 'openai';
import type { Batch } from 'openai/resources/batches';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { API_NODE_FLAGS, spawnBuilt, WORKER_NODE_FLAGS, type Proc } from '../test/harness/processes';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];

/** A headless dev server whose state lives in `dir` (SQLite), as a deployment's would persist. */
export function startBenchTemporal(dir: string, port: number): Promise<DevServer> {
  return startDevServer({
    port,
    uiPort: 0,
    headless: true,
    namespace: 'default',
    dbFile: join(dir, 'temporal.db'),
  });
}

/** The gateway simulator on `port`, configured by SIM_* variables (src/simulator/config.ts). */
export function spawnSimulator(port: number, simEnv: Record<string, string>): Promise<Proc> {
  return spawnBuilt('simulator', 'simulator/main', { SIM_PORT: String(port), ...simEnv }, /listening/);
}

/** The settings every benchmark run gives the worker and the API; `extra` adds or overrides. */
export function stackEnv(
  p: {
    temporalAddress: string;
    dir: string;
    gatewayUrl: string;
    apiPort: number;
    concurrency: number;
    n: number;
  },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: p.temporalAddress,
    DATA_DIR: p.dir,
    GATEWAY_URL: p.gatewayUrl,
    PORT: String(p.apiPort),
    GLOBAL_CONCURRENCY: String(p.concurrency),
    MODEL_CONCURRENCY: String(p.concurrency),
    MAX_REQUESTS_PER_BATCH: String(Math.max(p.n, 50_000)),
    MAX_UPLOAD_BYTES: String(4 * 1024 ** 3),
    LOG_LEVEL: 'warn',
    // As `npm run worker`, `npm run api` and the image set it: glibc's malloc keeps 2 arenas, not
    // one per thread (the SDK's native threads, libuv's pool): the worker's peak RSS 313 → 279 MB.
    MALLOC_ARENA_MAX: '2',
    ...extra,
  };
}

/**
 * Our compiled worker (with the V8 flags of `npm run worker`, or BENCH_WORKER_FLAGS) and API, as
 * production runs them (`npm run bench` builds first).
 * BENCH_PROFILE_DIR=<dir> writes V8 CPU profiles of both (see BENCHMARKS.md). On a machine busy
 * enough that one of them misses spawnBuilt's 60 s start limit, they are started again, up to `attempts` times.
 */
export async function spawnWorkerAndApi(
  env: Record<string, string>,
  attempts = 3,
): Promise<{ worker: Proc; api: Proc }> {
  for (let i = 1; ; i++) {
    try {
      return await spawnWorkerAndApiOnce(env);
    } catch (err) {
      if (i >= attempts || !/did not start within/.test(String(err))) throw err;
      console.error(`bench: ${String(err).split('\n')[0]}; starting again (${i + 1}/${attempts})`);
    }
  }
}

async function spawnWorkerAndApiOnce(env: Record<string, string>): Promise<{ worker: Proc; api: Proc }> {
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  const worker = await spawnBuiltWorker(env, [...workerNodeFlags(), ...profile]);
  try {
    const apiFlags = (process.env.BENCH_API_FLAGS ?? API_NODE_FLAGS.join(' ')).split(' ').filter(Boolean);
    const api = await spawnBuilt('api', 'main/api', env, /listening on/, [...apiFlags, ...profile]);
    return { worker, api };
  } catch (err) {
    await worker.stop();
    throw err;
  }
}

/** The worker's V8 flags: those of `npm run worker`, or BENCH_WORKER_FLAGS (e.g. to add --cpu-prof); BENCH_API_FLAGS replaces the API's. */
export function workerNodeFlags(): string[] {
  return (process.env.BENCH_WORKER_FLAGS ?? WORKER_NODE_FLAGS.join(' ')).split(' ').filter(Boolean);
}

/** `node dist/main/worker.js`, ready once it polls. */
export function spawnBuiltWorker(env: Record<string, string>, nodeArgs = workerNodeFlags()): Promise<Proc> {
  return spawnBuilt('worker', 'main/worker', env, /polling task queue/, nodeArgs);
}

/** N chat-completion lines for one model; `padBytes` more bytes of prompt per line. */
export async function writeInput(
  path: string,
  n: number,
  padBytes = 0,
  model = 'gpt-4o-mini',
): Promise<void> {
  const out = createWriteStream(path);
  const pad = 'x'.repeat(padBytes);
  for (let i = 0; i < n; i++) {
    const line = {
      custom_id: `r-${i}`,
      method: 'POST',
      url: '/v1/chat/completions',
      body: {
        model,
        messages: [
          { role: 'user', content: `Classify item ${i}: the quick brown fox jumps over the lazy dog.${pad}` },
        ],
      },
    };
    if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Polls a batch until it reaches a terminal status. */
export async function waitForBatch(openai: OpenAI, id: string, pollMs: number): Promise<Batch> {
  let b = await openai.batches.retrieve(id);
  while (!TERMINAL.includes(b.status)) {
    await sleep(pollMs);
    b = await openai.batches.retrieve(id);
  }
  return b;
}
