// `npx tsx bench/run.ts --reads`: read latency of the control plane with many batches.
// A few hundred batches really run (worker up), then the worker stops and 10,000 more are created
// through the API (they stay `validating`, their memo set at start): reads must not care which.
// Then: GET /v1/batches/{id} from 100 concurrent pollers, GET /v1/batches?limit=100 (first page and
// random `after` cursors) alone and under that load. Prints p50/p99 per figure and one JSON line.
// Flags: --batches 10000 --ran 200 --pollers 100 --poll-ms 1000 (the README polling loop) --seconds 20
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI, { toFile } from 'openai';
import { startDevServer } from '../src/temporal/dev-server';
import { freePort } from '../test/harness/ports';
import { spawnEntry, WORKER_NODE_FLAGS, type Proc } from '../test/harness/processes';

export interface ReadsOptions {
  batches: number;
  ran: number;
  pollers: number;
  pollMs: number;
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

function percentiles(ms: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => +s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)].toFixed(1);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: +s[s.length - 1].toFixed(1) };
}

/** Runs `fn` from `workers` concurrent loops until `n` calls are done; returns each call's latency. */
async function pool(workers: number, n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await fn(i);
        out.push(performance.now() - t0);
      }
    }),
  );
  return out;
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${url} → ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as unknown;
}

export async function runReads(o: ReadsOptions): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'batchgw-reads-'));
  const procs: Proc[] = [];
  const [tPort, apiPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const temporal = await startDevServer({
    port: tPort,
    uiPort: 0,
    headless: true,
    namespace: 'default',
    // In memory: creating 10,000 batches against the SQLite file takes far longer on 2 cores.
  });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  try {
    const simUrl = `http://127.0.0.1:${simPort}`;
    procs.push(
      await spawnEntry(
        'simulator',
        'src/simulator/main.ts',
        { SIM_PORT: String(simPort), SIM_LATENCY_MS: '5' },
        /listening/,
      ),
    );
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      DATA_DIR: dir,
      GATEWAY_URL: simUrl,
      PORT: String(apiPort),
      LOG_LEVEL: 'warn',
    };
    const worker = await spawnEntry(
      'worker',
      'src/main/worker.ts',
      env,
      /polling task queue/,
      WORKER_NODE_FLAGS,
    );
    procs.push(worker);
    // BENCH_PROFILE_DIR=<dir> writes a V8 CPU profile of the API (as in the throughput bench).
    const profile = process.env.BENCH_PROFILE_DIR
      ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
      : [];
    const api = await spawnEntry('api', 'src/main/api.ts', env, /listening on/, profile);
    procs.push(api);
    const base = `http://127.0.0.1:${apiPort}/v1`;
    const openai = new OpenAI({ baseURL: base, apiKey: 'x', maxRetries: 2 });
    const lines = Array.from({ length: 5 }, (_, i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `item ${i}` }] },
      }),
    );
    const file = await openai.files.create({
      file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'input.jsonl'),
      purpose: 'batch',
    });
    const create = async () =>
      (
        await openai.batches.create({
          input_file_id: file.id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
        })
      ).id;

    // Batches that really run to the end (terminal memo, output files, snapshot).
    const t0 = performance.now();
    const ran: string[] = [];
    await pool(8, o.ran, async () => void ran.push(await create()));
    for (const id of ran) {
      for (;;) {
        const b = (await getJson(`${base}/batches/${id}`)) as { status: string };
        if (TERMINAL.has(b.status)) break;
        await sleep(200);
      }
    }
    const ranMs = performance.now() - t0;
    await worker.stop();

    // The rest: created with no worker polling, so they stay `validating`.
    const t1 = performance.now();
    const idle: string[] = [];
    await pool(32, o.batches - o.ran, async () => void idle.push(await create()));
    const createMs = performance.now() - t1;
    const total = ran.length + idle.length;
    for (;;) {
      const { count } = await client.workflow.count(`WorkflowType = 'batchWorkflow'`);
      if (count >= total) break;
      await sleep(500);
    }
    const ids = [...ran, ...idle];
    const pick = () => ids[Math.floor(Math.random() * ids.length)];
    const listUrl = (after: string | null) => `${base}/batches?limit=100${after ? `&after=${after}` : ''}`;
    // Warm-up: connections, JIT, the list's remembered window.
    await pool(20, 400, async () => void (await getJson(`${base}/batches/${pick()}`)));
    for (let i = 0; i < 10; i++) await getJson(listUrl(i % 2 ? pick() : null));

    // Lists alone: the first page and pages after random cursors, one at a time.
    const listFirst = await pool(1, 100, async () => {
      const page = (await getJson(listUrl(null))) as { data: unknown[] };
      if (page.data.length !== 100) throw new Error(`first page has ${page.data.length} rows`);
    });
    const listAfter = await pool(1, 200, async () => void (await getJson(listUrl(pick()))));

    // 100 pollers, each GET /v1/batches/{id} of a random batch every pollMs (the README's polling
    // loop waits a second), for `seconds`; a lister pages through the newest batches meanwhile.
    const loadBefore = loadavg()[0];
    const getMs: number[] = [];
    const listUnderLoad: number[] = [];
    const until = performance.now() + o.seconds * 1000;
    const poller = async () => {
      await sleep(Math.random() * o.pollMs);
      while (performance.now() < until) {
        const started = performance.now();
        await getJson(`${base}/batches/${pick()}`);
        getMs.push(performance.now() - started);
        await sleep(Math.max(0, o.pollMs - (performance.now() - started)));
      }
    };
    const lister = async () => {
      let after: string | null = null;
      while (performance.now() < until) {
        const started = performance.now();
        const page = (await getJson(listUrl(after))) as { last_id: string | null; has_more: boolean };
        listUnderLoad.push(performance.now() - started);
        after = page.has_more && listUnderLoad.length % 10 !== 0 ? page.last_id : null;
        await sleep(100);
      }
    };
    await Promise.all([...Array.from({ length: o.pollers }, poller), lister()]);

    // For reference: closed-loop GET by id (each of the pollers sends its next call at once).
    const saturated = await pool(
      o.pollers,
      3000,
      async () => void (await getJson(`${base}/batches/${pick()}`)),
    );

    return {
      mode: 'reads',
      // The host is shared: the 1-minute load average (2 cores) around the measurements.
      loadAvg: { before: +loadBefore.toFixed(2), after: +loadavg()[0].toFixed(2), cores: cpus().length },
      batches: total,
      ranToEnd: ran.length,
      ranMs: Math.round(ranMs),
      createIdleMs: Math.round(createMs),
      createIdlePerS: Math.round((idle.length / createMs) * 1000),
      getByIdUnderPollers: { pollers: o.pollers, pollMs: o.pollMs, ...percentiles(getMs) },
      listFirstPage100: percentiles(listFirst),
      listAfterRandomCursor100: percentiles(listAfter),
      listUnderPollers100: percentiles(listUnderLoad),
      getByIdClosedLoop: {
        concurrency: o.pollers,
        ...percentiles(saturated),
        perS: Math.round(saturated.length / (saturated.reduce((a, b) => a + b, 0) / o.pollers / 1000)),
      },
    };
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await connection.close();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
