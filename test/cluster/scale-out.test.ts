// Scale-out on the production-shaped stack: one batch over three workers and two APIs, a worker and an API killed, exactly once, the global cap held.
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { Batch } from '../../src/domain/batch';
import { chatLine, readResultFile, toJsonl, uploadJsonl } from '../harness/batches';
import type { Proc } from '../harness/processes';
import { s3Server } from '../harness/s3-server';
import { startScaleOutStack, type ScaleOutStack } from '../harness/scale-out-stack';

// The Temporal server 1.29.1 on PostgreSQL with mTLS, storage on versitygw, 3 workers and 2 APIs
// as OS processes, the gateway simulator here (so its counters are read directly). One batch
// of N requests over two models, uploaded through API #1 and created through API #2; while it
// runs, every worker must have run chunks (their identities on the child workflows' history
// events), then one worker gets SIGKILL and so does API #2; polling goes on through API #1.

const execFileP = promisify(execFile);
const N = 6000;
const CAP = 30;
const WORKERS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

describe('scale-out on the Temporal server (PostgreSQL, mTLS), S3, 3 workers, 2 APIs', () => {
  let stack: ScaleOutStack;

  beforeAll(async () => {
    const t0 = Date.now();
    // Compiled processes, as deployed (`npm run build` is incremental: quick when dist/ is fresh).
    await execFileP('npm', ['run', '--silent', 'build'], { cwd: resolve(__dirname, '../..') });
    const built = Date.now();
    stack = await startScaleOutStack({
      compiled: true,
      workers: WORKERS,
      apis: 2,
      tls: 'mtls',
      s3: s3Server(),
      env: { GLOBAL_CONCURRENCY: String(CAP), MODEL_CONCURRENCY: String(CAP) },
      // ~100–200 ms per call, like a model server under load.
      sim: { latencyMs: 100, jitterMs: 100 },
    });
    console.log(
      `scale-out: npm run build ${((built - t0) / 1000).toFixed(1)} s, stack up in ${((Date.now() - built) / 1000).toFixed(1)} s (Temporal cluster ${JSON.stringify(stack.cluster.phasesMs)} ms)`,
    );
  }, 360_000);

  afterAll(async () => {
    await stack?.close();
  });

  it('spreads one batch over every worker, survives a worker and an API SIGKILL, writes each line once and holds the global cap', async () => {
    const sim = stack.sim!;
    const [api1, api2] = stack.apis;
    onTestFailed(() => {
      for (const p of [...stack.workers, ...stack.apis.map((a) => a.proc)])
        console.error(`--- ${p.name} (pid ${p.child.pid}) ---\n${p.output().slice(-3000)}`);
    });
    const models = ['model-a', 'model-b'];
    const lines = Array.from({ length: N }, (_, i) => chatLine(`rec-${i}`, models[i % 2], `item ${i}`));
    const file = await uploadJsonl(api1.openai, toJsonl(lines));
    const created = await api2.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const t0 = Date.now();

    // In flight at the gateway, every 100 ms.
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(sim.stats().inFlight), 100);

    try {
      // Which worker ran which chunk: a worker's default identity is `<pid>@<host>`.
      const byPid = new Map(stack.workers.map((w) => [String(w.child.pid), w]));
      const workerOf = (identity: string | null | undefined) =>
        byPid.get(String(identity ?? '').split('@')[0]);
      const childIds = models.map((_, i) => `${created.id}-model-${i}`);
      /** Workers with a finished chunk attempt in the children's histories, and workers running one now. */
      const chunkWorkers = async () => {
        const done = new Map<Proc, number>();
        const running = new Set<Proc>();
        for (const id of childIds) {
          const handle = stack.client.workflow.getHandle(id);
          const [history, description] = await Promise.all([
            handle.fetchHistory().catch(() => null),
            handle.describe().catch(() => null),
          ]);
          for (const e of history?.events ?? []) {
            const w = workerOf(e.activityTaskStartedEventAttributes?.identity);
            if (w) done.set(w, (done.get(w) ?? 0) + 1);
          }
          for (const a of description?.raw.pendingActivities ?? []) {
            const w = workerOf(a.lastWorkerIdentity);
            // temporal.api.enums.v1.PendingActivityState STARTED = 2 (no direct dependency on @temporalio/proto).
            if (w && Number(a.state) === 2) running.add(w);
          }
        }
        return { done, running };
      };

      // 1. Every worker has run chunks, and calls are flowing; then kill -9 a worker that is running one.
      let victim: Proc | undefined;
      let seen = new Map<Proc, number>();
      const spreadDeadline = Date.now() + 120_000;
      while (!victim) {
        if (Date.now() > spreadDeadline)
          throw new Error(
            `not every worker ran a chunk: ${[...seen].map(([w, n]) => `${w.name}=${n}`).join(', ')}`,
          );
        const { done, running } = await chunkWorkers();
        seen = done;
        if (done.size === WORKERS && sim.stats().totalCalls >= N * 0.2) victim = [...running][0] ?? undefined;
        if (!victim) await sleep(500);
      }
      const chunksBeforeKill = [...seen].map(([w, n]) => `${w.name}=${n}`).join(', ');
      const inFlightAtKill = sim.stats().inFlight;
      const callsAtKill = sim.stats().totalCalls;
      await victim.kill9();

      // 2. kill -9 API #2 (the one the batch was created through); API #1 goes on serving it.
      await sleep(1000);
      expect(((await api2.openai.batches.retrieve(created.id)) as unknown as Batch).id).toBe(created.id);
      await api2.proc.kill9();
      await expect(api2.openai.batches.retrieve(created.id)).rejects.toThrow();

      let batch: Batch | undefined;
      const deadline = Date.now() + 240_000;
      for (;;) {
        batch = (await api1.openai.batches.retrieve(created.id)) as unknown as Batch;
        if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) break;
        if (Date.now() > deadline)
          throw new Error(
            `batch still ${batch.status} after 240 s: ${JSON.stringify(batch.request_counts)}, ${sim.stats().totalCalls} gateway calls`,
          );
        await sleep(500);
      }
      const elapsedS = (Date.now() - t0) / 1000;
      clearInterval(sampler);
      expect(batch?.status).toBe('completed');
      expect(batch.request_counts).toEqual({ total: N, completed: N, failed: 0 });

      // 3. Exactly once: every custom_id once across the output and error files, none missing.
      const output = await readResultFile(api1.openai, batch.output_file_id);
      const errors = await readResultFile(api1.openai, batch.error_file_id);
      const count = new Map<string, number>();
      for (const l of [...output, ...errors]) count.set(l.custom_id, (count.get(l.custom_id) ?? 0) + 1);
      expect(errors).toEqual([]);
      expect(count.size).toBe(N);
      expect([...count.values()].filter((c) => c !== 1)).toEqual([]);
      for (const l of output)
        expect(l.response?.body.choices[0].message.content).toBe(`echo: item ${l.custom_id.slice(4)}`);

      // 4. Repeated upstream calls: at most the requests in flight when the worker died (the
      // gateway's total then bounds the victim's share; a few ms of slack between reading it and the kill).
      const stats = sim.stats();
      const repeated = stats.totalCalls - N;
      const retried = sim.batch(created.id).retriedRecords;

      // 5. The gateway never saw more than the global cap, and the cap was used (≥ 80 %).
      const first = samples.findIndex((s) => s > 0);
      let last = samples.length - 1;
      while (last > first && samples[last] === 0) last--;
      const busy = samples.slice(first, last + 1);
      const sorted = [...busy].sort((a, b) => a - b);
      const atCap = busy.filter((s) => s >= CAP * 0.8).length;
      console.log(
        `scale-out: ${N} requests, ${elapsedS.toFixed(1)} s from create to completed; chunks per worker before the kill: ${chunksBeforeKill}; ` +
          `killed ${victim.name} at ${callsAtKill} calls with ${inFlightAtKill} in flight, then api-2; ` +
          `${repeated} repeated calls (${retried} records called more than once); ` +
          `gateway maxInFlight ${stats.maxInFlight} (cap ${CAP}); in flight every 100 ms over ${busy.length} samples: ` +
          `p10 ${quantile(sorted, 0.1)}, p50 ${quantile(sorted, 0.5)}, p90 ${quantile(sorted, 0.9)}, max ${sorted.at(-1)}, ` +
          `${((100 * atCap) / Math.max(1, busy.length)).toFixed(0)} % of samples ≥ ${CAP * 0.8}`,
      );
      expect(repeated).toBeGreaterThanOrEqual(0);
      expect(repeated).toBeLessThanOrEqual(inFlightAtKill + 5);
      expect(retried).toBeLessThanOrEqual(inFlightAtKill + 5);
      expect(stats.maxInFlight).toBeLessThanOrEqual(CAP);
      expect(stats.maxInFlight).toBeGreaterThanOrEqual(CAP * 0.8);
    } finally {
      clearInterval(sampler);
    }
    // The stages' own deadlines (120 s to spread, 240 s to complete) fail first, saying where it stuck.
  }, 420_000);
});
