// Cold start: from the exec of a compiled worker process to the first upstream call of a batch
// that was created while no worker ran (its ingest, child start and first chunk all wait for this
// worker). The API, the dev server and the simulator are already up, as in a deploy or a scale-up.
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { spawnBuilt, type Proc } from '../test/harness/processes';
import { freePort } from '../test/harness/ports';
import { batchTimeline } from './timeline';
import { stats } from './stats';
import {
  sleep,
  spawnBuiltWorker,
  spawnSimulator,
  stackEnv,
  startBenchTemporal,
  waitForBatch,
  writeInput,
} from './stack';

/** `runs` cold starts, each a new worker process and a new 100-line batch; one JSON-able result. */
export async function runColdStart(runs: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'batchgw-cold-'));
  const procs: Proc[] = [];
  const [tPort, apiPort, simPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const temporal = await startBenchTemporal(dir, tPort);
  try {
    const simUrl = `http://127.0.0.1:${simPort}`;
    procs.push(await spawnSimulator(simPort, { SIM_LATENCY_MS: '50' }));
    const env = stackEnv({
      temporalAddress: temporal.address,
      dir,
      gatewayUrl: simUrl,
      apiPort,
      concurrency: 200,
      n: 100,
    });
    procs.push(await spawnBuilt('api', 'main/api', env, /listening on/));
    const openai = new OpenAI({ baseURL: `http://127.0.0.1:${apiPort}/v1`, apiKey: 'x', maxRetries: 0 });
    const input = join(dir, 'input.jsonl');
    await writeInput(input, 100);
    const toFirstCall: number[] = [];
    const toPolling: number[] = [];
    const steps: Record<string, number | null>[] = [];
    const connection = await Connection.connect({ address: temporal.address });
    const client = new Client({ connection });
    for (let run = 0; run < runs; run++) {
      await fetch(`${simUrl}/_sim/reset`, { method: 'POST' });
      const file = await openai.files.create({ file: createReadStream(input), purpose: 'batch' });
      const batch = await openai.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      });
      const t0 = performance.now();
      const spawnedAt = Date.now();
      let firstCall: number | null = null;
      const watch = (async () => {
        while (firstCall === null && performance.now() - t0 < 60_000) {
          const s = (await (await fetch(`${simUrl}/_sim/stats`)).json()) as { totalCalls: number };
          if (s.totalCalls > 0) firstCall = performance.now() - t0;
          else await sleep(5);
        }
      })();
      const worker = await spawnBuiltWorker(env);
      toPolling.push(performance.now() - t0);
      await watch;
      if (firstCall === null) throw new Error('cold start: no upstream call within 60 s');
      toFirstCall.push(firstCall);
      const done = await waitForBatch(openai, batch.id, 50);
      await worker.stop();
      if (done.status !== 'completed') throw new Error(`cold-start batch ended ${done.status}`);
      const sims = (await (await fetch(`${simUrl}/_sim/stats`)).json()) as {
        firstCallAtMs: number;
        lastFinishedAtMs: number;
      };
      steps.push(
        (await batchTimeline(client, batch.id, sims.firstCallAtMs, sims.lastFinishedAtMs, spawnedAt)).startMs,
      );
    }
    await connection.close();
    return {
      regime: 'cold-start',
      runs,
      workerStartToFirstCallMs: stats(toFirstCall).median,
      workerStartToFirstCallAllMs: toFirstCall.map(Math.round),
      workerStartToPollingMs: stats(toPolling).median,
      // Per run: ms after the worker's exec of each step (bench/timeline.ts).
      steps,
    };
  } finally {
    for (const p of procs) await p.stop();
    await temporal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
