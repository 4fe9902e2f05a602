// `npx tsx bench/startup.ts [--runs N] [--modes built,tsx-cold,tsx-warm]`: how long a worker
// process takes from exec to polling ("polling task queue" on its output) and to its first workflow
// task (the WorkflowTaskStarted of a workflow started on its queue before it was spawned), for the
// compiled worker (`node dist/main/worker.js`, after `npm run build`) and the tsx one, which bundles
// the workflow code at start (cold: a fresh DATA_DIR) or finds its last bundle up to date (warm).
// One JSON line per mode: median, min and max in ms, wall clock and the CPU time the process (and
// the children it waited for: the tsx worker's bundler) had used when it printed that line — on a
// machine shared with other work the CPU time is the steadier figure.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { startSimulator } from '../src/simulator/server';
import { startDevServer } from '../src/temporal/dev-server';
import { freePort } from '../test/harness/ports';
import { cpuMsOf } from './process-cpu';
import { stats } from './stats';
import { spawnBuilt, spawnEntry, WORKER_NODE_FLAGS, type Proc } from '../test/harness/processes';

type Mode = 'built' | 'tsx-cold' | 'tsx-warm';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    modes: { type: 'string', default: 'built,tsx-cold,tsx-warm' },
  },
});
const runs = Number(values.runs);
const modes = values.modes.split(',') as Mode[];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const temporal = await startDevServer({
    port: await freePort(),
    uiPort: 0,
    namespace: 'default',
    headless: true,
  });
  const sim = await startSimulator({ port: 0, latencyMs: 5 });
  const connection = await Connection.connect({ address: temporal.address });
  const client = new Client({ connection });
  const warmDir = mkdtempSync(join(tmpdir(), 'batchgw-startup-warm-'));
  try {
    for (const mode of modes) {
      const ready: number[] = [];
      const readyCpu: number[] = [];
      const firstTask: number[] = [];
      // tsx-warm: one DATA_DIR for every run, bundled once before the first measured one.
      for (let run = mode === 'tsx-warm' ? -1 : 0; run < runs; run++) {
        const dataDir = mode === 'tsx-warm' ? warmDir : mkdtempSync(join(tmpdir(), 'batchgw-startup-'));
        const taskQueue = `startup-${randomBytes(6).toString('hex')}`;
        const env = {
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_TASK_QUEUE: taskQueue,
          DATA_DIR: dataDir,
          GATEWAY_URL: sim.url,
          LOG_LEVEL: 'warn',
        };
        // Waiting before the worker exists: its first workflow task is this one's first.
        const probe = await client.workflow.start('startupProbe', {
          taskQueue,
          workflowId: `probe-${taskQueue}`,
        });
        const t0 = Date.now();
        const worker: Proc =
          mode === 'built'
            ? await spawnBuilt('worker', 'main/worker', env, /polling task queue/, WORKER_NODE_FLAGS)
            : await spawnEntry('worker', 'src/main/worker.ts', env, /polling task queue/, WORKER_NODE_FLAGS);
        const readyMs = Date.now() - t0;
        const cpuMs = cpuMsOf(worker.child.pid);
        let taskMs: number | undefined;
        for (let i = 0; i < 200 && taskMs === undefined; i++) {
          const { events } = await probe.fetchHistory();
          const started = events?.find((e) => e.workflowTaskStartedEventAttributes);
          const at = started?.eventTime;
          if (at) taskMs = Number(at.seconds) * 1000 + Math.floor((at.nanos ?? 0) / 1e6) - t0;
          else await sleep(50);
        }
        await probe.terminate('startup benchmark');
        await worker.stop();
        if (mode !== 'tsx-warm') rmSync(dataDir, { recursive: true, force: true });
        if (run < 0) continue;
        ready.push(readyMs);
        readyCpu.push(cpuMs);
        if (taskMs !== undefined) firstTask.push(taskMs);
      }
      console.log(
        JSON.stringify({
          mode,
          runs,
          toPollingMs: stats(ready),
          toFirstWorkflowTaskMs: stats(firstTask),
          cpuToPollingMs: stats(readyCpu),
        }),
      );
    }
  } finally {
    await connection.close();
    await sim.close();
    await temporal.stop();
    rmSync(warmDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
