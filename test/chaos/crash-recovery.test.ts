import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, describe, expect, it } from 'vitest';
import type { Batch } from '../../src/domain/batch';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { chatLine, readResultFile, toJsonl, uploadJsonl } from '../harness/batches';
import { freePort } from '../harness/ports';
import { spawnEntry, WORKER_NODE_FLAGS, type Proc } from '../harness/processes';

// The durability promise, with every part a separate OS process: the Temporal dev server (with
// its database file), the worker, the API and the gateway simulator. We kill -9 the worker
// several times, kill and restart the API, stop and restart Temporal, and then check that every
// request is in the output or error file exactly once and that the gateway saw repeated calls
// only for requests that were in flight at a kill.

const N = 6000;
const CONCURRENCY = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('crash recovery', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-chaos-'));
  const procs: Proc[] = [];
  let temporal: DevServer | undefined;

  afterAll(async () => {
    for (const p of procs) await p.kill9();
    await temporal?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses nothing and repeats only in-flight calls across worker, API and server crashes', async () => {
    const [temporalPort, apiPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const startTemporal = () =>
      startDevServer({
        port: temporalPort,
        uiPort: 0,
        headless: true,
        namespace: 'default',
        dbFile: join(dataDir, 'temporal.db'),
      });
    temporal = await startTemporal();

    const simUrl = `http://127.0.0.1:${simPort}`;
    procs.push(
      await spawnEntry(
        'simulator',
        'src/simulator/main.ts',
        { SIM_PORT: String(simPort), SIM_LATENCY_MS: '100', SIM_JITTER_MS: '60' },
        /listening/,
      ),
    );
    const env = {
      TEMPORAL_ADDRESS: temporal.address,
      DATA_DIR: dataDir,
      GATEWAY_URL: simUrl,
      PORT: String(apiPort),
      TEMPORAL_TASK_QUEUE: 'chaos',
      GLOBAL_CONCURRENCY: String(CONCURRENCY),
      MODEL_CONCURRENCY: String(CONCURRENCY),
      LOG_LEVEL: 'warn',
    };
    const startWorker = async () => {
      const p = await spawnEntry(
        'worker',
        'src/main/worker.ts',
        env,
        /polling task queue/,
        WORKER_NODE_FLAGS,
      );
      procs.push(p);
      return p;
    };
    const startApi = async () => {
      const p = await spawnEntry('api', 'src/main/api.ts', env, /listening on/);
      procs.push(p);
      return p;
    };
    let worker = await startWorker();
    let api = await startApi();

    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${apiPort}/v1`, apiKey: 'x', maxRetries: 0 });
    const lines = Array.from({ length: N }, (_, i) =>
      chatLine(`rec-${i}`, i % 2 ? 'model-a' : 'model-b', `item ${i}`),
    );
    const file = await uploadJsonl(openai, toJsonl(lines));
    const created = await openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });

    const simStats = async () =>
      (await (await fetch(`${simUrl}/_sim/stats`)).json()) as { totalCalls: number; inFlight: number };
    /** Reads the batch, tolerating an API or Temporal outage. */
    const retrieve = async (): Promise<Batch | null> => {
      try {
        return (await openai.batches.retrieve(created.id)) as unknown as Batch;
      } catch {
        return null;
      }
    };
    const waitForCalls = async (atLeast: number) => {
      while ((await simStats()).totalCalls < atLeast) await sleep(50);
    };

    let inFlightAtKills = 0;
    let kills = 0;
    const killWorker = async () => {
      const { inFlight } = await simStats();
      await worker.kill9();
      inFlightAtKills += inFlight;
      kills++;
      await sleep(300 + Math.random() * 1200);
      worker = await startWorker();
    };

    // 1–2: kill -9 the worker at random moments while requests are flowing.
    await waitForCalls(N * (0.05 + Math.random() * 0.1));
    await killWorker();
    await waitForCalls(N * (0.25 + Math.random() * 0.1));
    await killWorker();

    // 3: kill and restart the API; reads work again afterwards.
    await api.kill9();
    await sleep(500);
    api = await startApi();
    expect((await retrieve())?.id).toBe(created.id);

    // 4: stop and restart the Temporal server (same database file); worker and API reconnect.
    await waitForCalls(N * 0.5);
    await temporal.stop();
    await sleep(1500);
    temporal = await startTemporal();

    // 5: one more worker crash late in the run.
    await waitForCalls(N * (0.7 + Math.random() * 0.1));
    await killWorker();

    let batch: Batch | null = null;
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline) {
      batch = await retrieve();
      if (batch && ['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) break;
      await sleep(500);
    }
    expect(batch?.status).toBe('completed');
    expect(batch!.request_counts).toEqual({ total: N, completed: N, failed: 0 });

    const output = await readResultFile(openai, batch!.output_file_id);
    const errors = await readResultFile(openai, batch!.error_file_id);
    expect(errors).toEqual([]);
    const seen = new Map<string, number>();
    for (const l of output) seen.set(l.custom_id, (seen.get(l.custom_id) ?? 0) + 1);
    expect(seen.size).toBe(N);
    expect([...seen.values()].every((c) => c === 1)).toBe(true);
    for (const l of output)
      expect(l.response?.body.choices[0].message.content).toBe(`echo: item ${l.custom_id.slice(4)}`);

    // Repeated upstream calls come only from requests in flight at a worker kill (a few ms of
    // slack per kill for requests started between our reading of the counters and the kill).
    const { totalCalls } = await simStats();
    const extra = totalCalls - N;
    console.log(
      `chaos: ${kills} worker kills, ${inFlightAtKills} requests in flight at kills, ${extra} repeated upstream calls`,
    );
    expect(extra).toBeGreaterThanOrEqual(0);
    expect(extra).toBeLessThanOrEqual(inFlightAtKills + kills * 5);
  }, 420_000);
});
