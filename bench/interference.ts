// Interactive traffic beside a large batch: steady single requests sent straight to the gateway
// (as an app would) while a batch runs through our stack, with and without our caps and rate
// limits, on a simulator with a serving capacity. `npm run bench -- --interference [flags]`,
// or `npx tsx bench/interference.ts [flags]`. One JSON line per scenario.
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import type { DevServer } from '../src/temporal/dev-server';
import { freePort } from '../test/harness/ports';
import type { Proc } from '../test/harness/processes';
import {
  sleep,
  spawnSimulator,
  spawnWorkerAndApi,
  startBenchTemporal,
  stackEnv,
  waitForBatch,
  writeInput,
} from './stack';

const MODEL = 'gpt-4o-mini';

interface Options {
  /** Interactive requests per second (open loop) and for how long. */
  rate: number;
  seconds: number;
  /** Seconds the batch runs before the interactive window opens (its queue reaches steady state). */
  warmup: number;
  /** Requests in the batch. */
  n: number;
  /** Simulator: serving slots, base service time, extra ms per call served beside. */
  slots: number;
  latencyMs: number;
  perInFlightMs: number;
  /** The "no cap worth the name" concurrency, the model cap, the rpm limit, the gateway's 429 point. */
  uncapped: number;
  cap: number;
  rpm: number;
  shedAt: number;
  /** Let each batch run to its end (reports its duration) instead of cancelling it after the window. */
  finish: boolean;
  scenarios: string[];
}

interface Scenario {
  name: string;
  /** What the scenario changes, for the JSON line. */
  describe: Record<string, unknown>;
  /** No batch at all: the interactive baseline. */
  alone?: boolean;
  worker?: Record<string, string>;
  /** Simulator settings for this scenario (POST /_sim/config). */
  sim?: Record<string, number>;
}

function scenarios(o: Options): Scenario[] {
  const uncapped = { GLOBAL_CONCURRENCY: String(o.uncapped), MODEL_CONCURRENCY: String(o.uncapped) };
  const shed = { rateLimitConcurrency: o.shedAt };
  return [
    { name: 'alone', describe: { batch: 'none' }, alone: true },
    { name: 'uncapped', describe: { MODEL_CONCURRENCY: o.uncapped }, worker: uncapped },
    {
      name: 'model-cap',
      describe: { MODEL_CONCURRENCY: o.cap },
      worker: { ...uncapped, MODEL_CONCURRENCY: String(o.cap) },
    },
    {
      name: 'rate-limit',
      describe: { MODEL_CONCURRENCY: o.uncapped, rpm: o.rpm },
      worker: { ...uncapped, MODEL_RATE_LIMITS: JSON.stringify({ [MODEL]: { rpm: o.rpm } }) },
    },
    {
      name: 'shedding-aimd',
      describe: { MODEL_CONCURRENCY: o.uncapped, gateway429Above: o.shedAt, ADAPTIVE_CONCURRENCY: true },
      worker: { ...uncapped, ADAPTIVE_CONCURRENCY: 'true' },
      sim: shed,
    },
    {
      name: 'shedding-no-aimd',
      describe: { MODEL_CONCURRENCY: o.uncapped, gateway429Above: o.shedAt, ADAPTIVE_CONCURRENCY: false },
      worker: { ...uncapped, ADAPTIVE_CONCURRENCY: 'false' },
      sim: shed,
    },
  ].filter((s) => o.scenarios.includes(s.name));
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const round = (x: number | null) => (x === null ? null : Math.round(x));

interface Interactive {
  count: number;
  errors: number;
  byStatus: Record<string, number>;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Time the gateway kept them queued for a serving slot (its x-sim-queued-ms header). */
  queuedP50: number | null;
  queuedP99: number | null;
  /** How far the load generator fell behind its schedule at worst (a busy machine shows here). */
  maxSendLagMs: number;
}

/**
 * Open loop: request i is due at start + i / rate whatever the answers before it did; its latency
 * runs from when it was due (so a stalled sender cannot hide queueing), to its last body byte.
 */
async function interactive(simUrl: string, rate: number, seconds: number): Promise<Interactive> {
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const queued: number[] = [];
  const byStatus: Record<string, number> = {};
  let errors = 0;
  let maxLag = 0;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    maxLag = Math.max(maxLag, performance.now() - due);
    inflight.push(
      (async () => {
        let key = 'error';
        try {
          const res = await fetch(`${simUrl}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: 'Bearer app' },
            body: JSON.stringify({
              model: MODEL,
              messages: [{ role: 'user', content: `interactive ${i}: what is the capital of France?` }],
            }),
            signal: AbortSignal.timeout(60_000),
          });
          await res.arrayBuffer();
          key = String(res.status);
          if (res.status === 200) {
            latencies.push(performance.now() - due);
            const q = res.headers.get('x-sim-queued-ms');
            if (q !== null) queued.push(Number(q));
          } else errors++;
        } catch {
          errors++;
        }
        byStatus[key] = (byStatus[key] ?? 0) + 1;
      })(),
    );
  }
  await Promise.all(inflight);
  latencies.sort((a, b) => a - b);
  queued.sort((a, b) => a - b);
  return {
    count: total,
    errors,
    byStatus,
    p50: round(pct(latencies, 50)),
    p90: round(pct(latencies, 90)),
    p99: round(pct(latencies, 99)),
    max: round(pct(latencies, 100)),
    queuedP50: round(pct(queued, 50)),
    queuedP99: round(pct(queued, 99)),
    maxSendLagMs: Math.round(maxLag),
  };
}

interface SimBatch {
  calls: number;
  byStatus: Record<string, number>;
}

async function simJson<T>(simUrl: string, path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(simUrl + path, init);
  if (!res.ok) throw new Error(`simulator ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Serving slots in use and calls queued, sampled once a second through the window. */
async function sampleServing(simUrl: string, until: () => boolean) {
  const inService: number[] = [];
  const queued: number[] = [];
  while (!until()) {
    const s = await simJson<{ serving: { inService: number; queued: number } }>(simUrl, '/_sim/stats');
    inService.push(s.serving.inService);
    queued.push(s.serving.queued);
    await sleep(1000);
  }
  const mean = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  return { slotsInUseMean: mean(inService), queuedMean: mean(queued) };
}

async function runScenario(
  sc: Scenario,
  o: Options,
  ctx: { temporal: DevServer; dir: string; simUrl: string; input: string },
): Promise<Record<string, unknown>> {
  const { simUrl } = ctx;
  await simJson(simUrl, '/_sim/config', {
    method: 'POST',
    body: JSON.stringify({ rateLimitConcurrency: 0, ...sc.sim }),
  });
  await simJson(simUrl, '/_sim/reset', { method: 'POST' });
  const line: Record<string, unknown> = { scenario: sc.name, ...sc.describe };
  if (sc.alone) {
    let done = false;
    const [inter, serving] = await Promise.all([
      interactive(simUrl, o.rate, o.seconds).finally(() => (done = true)),
      sampleServing(simUrl, () => done),
    ]);
    return { ...line, interactive: inter, gateway: serving, loadavg: loadavg().map((x) => +x.toFixed(2)) };
  }

  const apiPort = await freePort();
  const env = stackEnv(
    {
      temporalAddress: ctx.temporal.address,
      dir: ctx.dir,
      gatewayUrl: simUrl,
      apiPort,
      concurrency: o.uncapped,
      n: o.n,
    },
    {
      // A task queue per scenario: the worker census (cluster-wide caps) never counts an earlier
      // scenario's stopped worker as a live one sharing the caps.
      TEMPORAL_TASK_QUEUE: `interference-${sc.name}`,
      GC_ENABLED: 'false',
      ...sc.worker,
    },
  );
  const procs: Proc[] = [];
  const t0 = performance.now();
  const progress = (what: string) =>
    console.error(`  ${sc.name}: ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  try {
    const { worker, api } = await spawnWorkerAndApi(env);
    progress('worker and API up');
    procs.push(worker, api);
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${apiPort}/v1`, apiKey: 'x', maxRetries: 0 });
    const file = await openai.files.create({ file: createReadStream(ctx.input), purpose: 'batch' });
    const tCreate = performance.now();
    const batch = await openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const batchStats = () => simJson<SimBatch>(simUrl, `/_sim/batches/${encodeURIComponent(batch.id)}`);
    // The window opens once the batch has been calling the gateway for `warmup` seconds.
    while ((await batchStats()).calls === 0) {
      if (performance.now() - tCreate > 120_000) {
        const b = await openai.batches.retrieve(batch.id);
        throw new Error(
          `${sc.name}: the batch never called the gateway (${b.status}, ${JSON.stringify(b.errors)}); worker:\n` +
            worker.output().slice(-3000),
        );
      }
      await sleep(50);
    }
    progress('first batch call');
    await sleep(o.warmup * 1000);

    const before = await batchStats();
    const tOpen = performance.now();
    let done = false;
    const [inter, serving] = await Promise.all([
      interactive(simUrl, o.rate, o.seconds).finally(() => (done = true)),
      sampleServing(simUrl, () => done),
    ]);
    const windowS = (performance.now() - tOpen) / 1000;
    const after = await batchStats();
    progress('window closed');
    const ok = (b: SimBatch) => b.byStatus['200'] ?? 0;
    const refused = (b: SimBatch) => b.byStatus['429'] ?? 0;

    let b = await openai.batches.retrieve(batch.id);
    let durationS: number | null = null;
    if (o.finish) {
      b = await waitForBatch(openai, batch.id, 250);
      if (b.status === 'completed') durationS = +((performance.now() - tCreate) / 1000).toFixed(1);
    } else if (b.status !== 'completed') {
      await openai.batches.cancel(batch.id);
      b = await waitForBatch(openai, batch.id, 100);
    } else durationS = null; // finished inside the window; its duration is not measured precisely
    progress(`batch ${b.status}`);
    return {
      ...line,
      interactive: inter,
      gateway: serving,
      batch: {
        n: o.n,
        rpsInWindow: Math.round((ok(after) - ok(before)) / windowS),
        answered429InWindow: refused(after) - refused(before),
        status: b.status,
        completed: b.request_counts?.completed ?? null,
        durationS,
      },
      loadavg: loadavg().map((x) => +x.toFixed(2)),
    };
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
}

const FLAGS = {
  rate: { type: 'string', default: '20' },
  seconds: { type: 'string', default: '30' },
  warmup: { type: 'string', default: '5' },
  n: { type: 'string', default: '20000' },
  slots: { type: 'string', default: '64' },
  latency: { type: 'string', default: '200' },
  'per-in-flight': { type: 'string', default: '2' },
  uncapped: { type: 'string', default: '500' },
  cap: { type: 'string', default: '32' },
  rpm: { type: 'string', default: '7200' },
  'shed-at': { type: 'string', default: '96' },
  finish: { type: 'boolean', default: false },
  scenarios: {
    type: 'string',
    default: 'alone,uncapped,model-cap,rate-limit,shedding-aimd,shedding-no-aimd',
  },
} as const;

function options(argv: string[]): Options {
  const { values: v } = parseArgs({ args: argv, options: FLAGS });
  const num = (name: string, raw: string) => {
    const x = Number(raw);
    if (!Number.isFinite(x) || x < 0) throw new Error(`--${name} must be a number ≥ 0, got ${raw}`);
    return x;
  };
  return {
    rate: num('rate', v.rate),
    seconds: num('seconds', v.seconds),
    warmup: num('warmup', v.warmup),
    n: num('n', v.n),
    slots: num('slots', v.slots),
    latencyMs: num('latency', v.latency),
    perInFlightMs: num('per-in-flight', v['per-in-flight']),
    uncapped: num('uncapped', v.uncapped),
    cap: num('cap', v.cap),
    rpm: num('rpm', v.rpm),
    shedAt: num('shed-at', v['shed-at']),
    finish: v.finish,
    scenarios: v.scenarios.split(',').map((s) => s.trim()),
  };
}

/** Runs the chosen scenarios on one Temporal dev server and one simulator; a worker and API each. */
export async function runInterference(argv: string[]): Promise<void> {
  const o = options(argv);
  const chosen = scenarios(o);
  if (chosen.length === 0) throw new Error(`no known scenario in --scenarios ${o.scenarios.join(',')}`);
  const dir = mkdtempSync(join(tmpdir(), 'batchgw-interference-'));
  const [tPort, simPort] = await Promise.all([freePort(), freePort()]);
  const temporal = await startBenchTemporal(dir, tPort);
  let sim: Proc | undefined;
  try {
    sim = await spawnSimulator(simPort, {
      SIM_LATENCY_MS: String(o.latencyMs),
      SIM_SERVING_SLOTS: String(o.slots),
      SIM_LATENCY_PER_IN_FLIGHT_MS: String(o.perInFlightMs),
    });
    const simUrl = `http://127.0.0.1:${simPort}`;
    const input = join(dir, 'input.jsonl');
    await writeInput(input, o.n, 0, MODEL);
    console.error(
      `interference: ${o.rate} req/s for ${o.seconds} s beside a ${o.n}-request batch; gateway ` +
        `${o.slots} slots, ${o.latencyMs} ms + ${o.perInFlightMs} ms per call served beside`,
    );
    for (const sc of chosen) {
      console.log(JSON.stringify(await runScenario(sc, o, { temporal, dir, simUrl, input })));
    }
  } finally {
    await sim?.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runInterference(process.argv.slice(2)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
