// `npm run bench`: the durable path (upload → batch → download, through our API, worker and
// Temporal) against a plain semaphore-around-fetch client, on the same simulator.
// Flags: --n 20000 --latency 200 --concurrency 200 [--pad BYTES] [--no-plain] [--set KEY=VALUE …]
// (one custom run, with settings for the worker and the API);
// none (the two reference regimes, then the cold start); --cold [--runs N] (worker exec → first
// upstream call: bench/cold-start.ts); --scaling (durable path at N = 1k, 10k, 100k); --reads (read and
// list latency with 10,000 batches: bench/reads.ts, flags --batches --ran --pollers --poll-ms --seconds);
// --interference (interactive latency beside a large batch: bench/interference.ts, its own flags).
// One JSON line per run.
import { spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { freePort } from '../test/harness/ports';
import { cpuMsOf } from './process-cpu';
import { runColdStart } from './cold-start';
import { runReads } from './reads';
import { RssSampler } from './rss-sampler';
import { batchTimeline } from './timeline';
import { runInterference } from './interference';
import { type Proc } from '../test/harness/processes';
import {
  spawnSimulator,
  spawnWorkerAndApi,
  startBenchTemporal,
  stackEnv,
  waitForBatch,
  writeInput,
} from './stack';

const ROOT = resolve(__dirname, '..');

interface Regime {
  name: string;
  n: number;
  latencyMs: number;
  concurrency: number;
  /** Extra bytes of prompt per line, to reach a given input size (e.g. ≥ 500 MB for 1M lines). */
  padBytes?: number;
  /** Settings of the worker and the API beyond the bench's own (--set KEY=VALUE). */
  settings?: Record<string, string>;
}

/** Peak resident set (VmHWM) of a process, in MB. */
function peakRssMb(pid: number | undefined): number | null {
  if (!pid) return null;
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

async function runBatch(openai: OpenAI, path: string, n: number): Promise<void> {
  await writeInput(path, n);
  const file = await openai.files.create({ file: createReadStream(path), purpose: 'batch' });
  const created = await openai.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  const b = await waitForBatch(openai, created.id, 50);
  if (b.status !== 'completed') throw new Error(`warm-up batch ended ${b.status}`);
}

const per1k = (cpuMs: number, n: number): number => Math.round((cpuMs * 1000) / n);

function mapValues<K extends string, V, W>(o: Record<K, V>, f: (v: V, k: K) => W): Record<K, W> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v as V, k as K)])) as Record<K, W>;
}

async function runPlain(
  input: string,
  simUrl: string,
  concurrency: number,
): Promise<{ wallMs: number; cpuMs: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/plain-client.ts', input, simUrl, String(concurrency)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await once(child, 'exit');
  const res = JSON.parse(out) as { wallMs: number; cpuMs: number; failed: number };
  if (res.failed) throw new Error(`plain client saw ${res.failed} failures`);
  return res;
}

async function runRegime(r: Regime, withPlain: boolean): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'batchgw-bench-'));
  const procs: Proc[] = [];
  const [tPort, apiPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const temporal = await startBenchTemporal(dir, tPort);
  try {
    const simUrl = `http://127.0.0.1:${simPort}`;
    const sim = await spawnSimulator(simPort, { SIM_LATENCY_MS: String(r.latencyMs) });
    procs.push(sim);
    const env = stackEnv(
      {
        temporalAddress: temporal.address,
        dir,
        gatewayUrl: simUrl,
        apiPort,
        concurrency: r.concurrency,
        n: r.n,
      },
      r.settings,
    );
    const { worker, api } = await spawnWorkerAndApi(env);
    procs.push(worker, api);
    const input = join(dir, 'input.jsonl');
    await writeInput(input, r.n, r.padBytes);

    const simBeforePlain = cpuMsOf(sim.child.pid);
    const plain = withPlain ? await runPlain(input, simUrl, r.concurrency) : null;
    const plainMs = plain?.wallMs ?? null;
    const plainSimCpuMs = cpuMsOf(sim.child.pid) - simBeforePlain;
    await fetch(`${simUrl}/_sim/reset`, { method: 'POST' });

    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${apiPort}/v1`, apiKey: 'x', maxRetries: 0 });
    // Warm-up: one small batch first, so the figures are of a running service, not a cold start
    // (the first workflow task of a fresh worker alone costs ~150 ms of code loading and JIT).
    await runBatch(openai, join(dir, 'warmup.jsonl'), 50);
    await fetch(`${simUrl}/_sim/reset`, { method: 'POST' });
    // CPU of each process of the durable path, from upload to the downloaded output.
    const cpuOf = {
      worker: worker.child.pid,
      api: api.child.pid,
      temporal: temporal.process.pid,
      simulator: sim.child.pid,
    };
    const cpuBefore = mapValues(cpuOf, cpuMsOf);
    const rss = new RssSampler({ worker: worker.child.pid, api: api.child.pid });
    const t0 = performance.now();
    const epoch0 = Date.now();
    const file = await openai.files.create({ file: createReadStream(input), purpose: 'batch' });
    const tUploaded = performance.now();
    const batch = await openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const tCreated = performance.now();
    const b = await waitForBatch(openai, batch.id, 100);
    const tCompleted = performance.now();
    if (b.status !== 'completed' || b.request_counts?.completed !== r.n)
      throw new Error(`batch ended ${b.status}: ${JSON.stringify(b.request_counts)}`);
    const content = await openai.files.content(b.output_file_id!);
    let lines = 0;
    // indexOf, not a loop over every byte: the bench must not bill its own counting to the service.
    for await (const chunk of content.body as unknown as AsyncIterable<Uint8Array>)
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    const durableMs = performance.now() - t0;
    const cpuAfter = mapValues(cpuOf, cpuMsOf);
    rss.stop();
    const sims = (await (await fetch(`${simUrl}/_sim/stats`)).json()) as {
      firstCallAtMs: number;
      lastFinishedAtMs: number;
    };
    // Where the wall time goes, in ms from the upload's start (epoch times from the simulator).
    const at = (epoch: number) => epoch - epoch0;
    const phasesMs = {
      upload: Math.round(tUploaded - t0),
      create: Math.round(tCreated - tUploaded),
      createdToFirstCall: Math.round(at(sims.firstCallAtMs) - (tCreated - t0)),
      sending: sims.lastFinishedAtMs - sims.firstCallAtMs,
      lastAnswerToCompletedSeen: Math.round(tCompleted - t0 - at(sims.lastFinishedAtMs)),
      download: Math.round(durableMs - (tCompleted - t0)),
    };
    if (lines !== r.n) throw new Error(`output has ${lines} lines, expected ${r.n}`);

    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    let events = 0;
    for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH '${batch.id}'` }))
      events += wf.historyLength;
    const timeline = await batchTimeline(client, batch.id, sims.firstCallAtMs, sims.lastFinishedAtMs);
    await connection.close();

    const limit = r.concurrency / (r.latencyMs / 1000);
    const durableRps = r.n / (durableMs / 1000);
    return {
      regime: r.name,
      n: r.n,
      latencyMs: r.latencyMs,
      concurrency: r.concurrency,
      durableWallMs: Math.round(durableMs),
      plainWallMs: plainMs === null ? null : Math.round(plainMs),
      ratio: plainMs === null ? null : +(durableMs / plainMs).toFixed(3),
      durableRps: Math.round(durableRps),
      plainRps: plainMs === null ? null : Math.round(r.n / (plainMs / 1000)),
      durablePctOfLimit: +((100 * durableRps) / limit).toFixed(1),
      plainPctOfLimit: plainMs === null ? null : +((100 * r.n) / (plainMs / 1000) / limit).toFixed(1),
      workerPeakRssMb: peakRssMb(worker.child.pid),
      apiPeakRssMb: peakRssMb(api.child.pid),
      historyEventsPer1k: +((events * 1000) / r.n).toFixed(1),
      // CPU ms per 1,000 requests, by process: the durable path's, then the plain client's run.
      cpuMsPer1k: {
        ...mapValues(cpuOf, (_pid, name) => per1k(cpuAfter[name] - cpuBefore[name], r.n)),
        ...(plain
          ? { plainClient: per1k(plain.cpuMs, r.n), simulatorDuringPlain: per1k(plainSimCpuMs, r.n) }
          : {}),
      },
      firstCallMs: phasesMs.createdToFirstCall,
      phasesMs,
      ...timeline,
      // Resident sets (MB) at their highest in each phase: validation, sending, finalize, download.
      rssPeaksMb: rss.peaks({
        upload: [epoch0, epoch0 + phasesMs.upload],
        ingest: [epoch0 + phasesMs.upload, sims.firstCallAtMs],
        sending: [sims.firstCallAtMs, sims.lastFinishedAtMs],
        end: [sims.lastFinishedAtMs, epoch0 + (tCompleted - t0)],
        download: [epoch0 + (tCompleted - t0), Date.now()],
      }),
      inputMb: Math.round(statSync(input).size / 1e6),
    };
  } finally {
    for (const p of procs) await p.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      n: { type: 'string' },
      latency: { type: 'string' },
      concurrency: { type: 'string' },
      scaling: { type: 'boolean', default: false },
      pad: { type: 'string' },
      'no-plain': { type: 'boolean', default: false },
      set: { type: 'string', multiple: true },
      reads: { type: 'boolean', default: false },
      batches: { type: 'string' },
      ran: { type: 'string' },
      pollers: { type: 'string' },
      'poll-ms': { type: 'string' },
      seconds: { type: 'string' },
      interference: { type: 'boolean', default: false },
      cold: { type: 'boolean', default: false },
      runs: { type: 'string' },
    },
    // --interference takes flags of its own (bench/interference.ts reads them).
    strict: !process.argv.includes('--interference'),
  });
  if (values.interference) {
    await runInterference(process.argv.slice(2).filter((a) => a !== '--interference'));
    return;
  }
  if (values.reads) {
    const result = await runReads({
      batches: Number(values.batches ?? 10_000),
      ran: Number(values.ran ?? 200),
      pollers: Number(values.pollers ?? 100),
      pollMs: Number(values['poll-ms'] ?? 1000),
      seconds: Number(values.seconds ?? 20),
    });
    console.log(JSON.stringify(result));
    return;
  }
  const coldRuns = Number(values.runs ?? 3);
  if (values.cold) {
    console.log(JSON.stringify(await runColdStart(coldRuns)));
    return;
  }
  const custom = values.n || values.latency || values.concurrency;
  const regimes: Regime[] = custom
    ? [
        {
          name: 'custom',
          n: Number(values.n ?? 20_000),
          latencyMs: Number(values.latency ?? 200),
          concurrency: Number(values.concurrency ?? 200),
          padBytes: Number(values.pad ?? 0),
          settings: Object.fromEntries(
            ((values.set ?? []) as string[]).map((kv) => [kv.split('=')[0], kv.slice(kv.indexOf('=') + 1)]),
          ),
        },
      ]
    : [
        { name: 'latency-bound', n: 20_000, latencyMs: 200, concurrency: 200 },
        { name: 'cpu-bound', n: 20_000, latencyMs: 50, concurrency: 200 },
      ];
  if (values.scaling) {
    for (const n of [1_000, 10_000, 100_000]) {
      console.log(
        JSON.stringify(
          await runRegime(
            { name: 'scaling', n, latencyMs: regimes[0].latencyMs, concurrency: regimes[0].concurrency },
            false,
          ),
        ),
      );
    }
    return;
  }
  for (const r of regimes) console.log(JSON.stringify(await runRegime(r, !values['no-plain'])));
  if (!custom) console.log(JSON.stringify(await runColdStart(coldRuns)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
