// Records the workflow histories of every path a batch can take, as fixtures for the replay test
// (test/replay.test.ts): completed with continue-as-new, cancelled, expired, budget stop, 401 halt,
// a dead-letter replay, a validation failure, more models than run at once, a child cancelled alone,
// a batch started from Temporal (completed, and refused for bad input), a batch paused and resumed, and
// one paused then cancelled, and a webhook delivered on its second attempt. Run it after a versioned workflow change
// (README, "Changing workflow code") to add histories of the new code; never delete old ones
// while batches on that code may still be running.
// Usage: tsx scripts/record-scenarios.ts [out-dir [scenario…]]   (default test/fixtures/histories/<today>,
// every scenario)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { loadConfig } from '../src/config';
import type { Batch } from '../src/domain/batch';
import { startApi } from '../src/main/start-api';
import { startWorker } from '../src/main/start-worker';
import { startSimulator } from '../src/simulator/server';
import { startDevServer } from '../src/temporal/dev-server';
import { startBatch } from '../src/client';
import { createBatchWith, uploadJsonl } from '../test/harness/batches';
import { recordBatchHistories } from './record-histories';

const TERMINAL = ['completed', 'failed', 'expired', 'cancelled'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const outRoot = resolve(
    process.argv[2] ?? join('test/fixtures/histories', new Date().toISOString().slice(0, 10)),
  );
  const only = new Set(process.argv.slice(3));
  const wanted = (scenario: string) => only.size === 0 || only.has(scenario);
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-record-'));
  // Continue-as-new after 60 events: a small batch rolls its children over several times.
  const server = await startDevServer({
    port: 17_000 + Math.floor(Math.random() * 1000),
    uiPort: 0,
    headless: true,
    namespace: 'default',
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 60 },
  });
  const sim = await startSimulator({ port: 0, latencyMs: 20 });
  // Every batch sends its event here: the first attempt of each is refused, the second accepted.
  const seen = new Set<string>();
  const receiver = createServer((req, res) => {
    const id = String(req.headers['webhook-id']);
    const status = seen.has(id) ? 200 : 503;
    seen.add(id);
    req.resume().on('end', () => res.writeHead(status).end());
  });
  await new Promise<void>((ok) => receiver.listen(0, '127.0.0.1', ok));
  const config = loadConfig({
    TEMPORAL_ADDRESS: server.address,
    DATA_DIR: dataDir,
    PORT: '0',
    GATEWAY_URL: sim.url,
    SEGMENT_SIZE: '10',
    MODEL_CONCURRENCY: '5',
    COMPLETION_WINDOWS: '24h,4s',
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '100',
    MAX_ATTEMPTS: '2',
    WEBHOOK_URL: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`,
    WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    WEBHOOK_RETRY_INITIAL_MS: '200',
    LOG_LEVEL: 'warn',
  });
  const worker = await startWorker(config, sim.url);
  const api = await startApi(config);
  const openai = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });

  const lines = (n: number, marker: (i: number) => string = () => '') =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `r-${i}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: {
          model: i % 2 ? 'm-a' : 'm-b',
          messages: [{ role: 'user', content: `item ${i}${marker(i)}` }],
        },
      }),
    ).join('\n');
  const create = (jsonl: string, extra: Record<string, unknown> = {}): Promise<Batch> =>
    createBatchWith({ openai, apiUrl: api.url }, jsonl, extra);
  const wait = async (id: string, until = (b: Batch) => TERMINAL.includes(b.status)): Promise<Batch> => {
    for (;;) {
      const b = (await openai.batches.retrieve(id)) as unknown as Batch;
      if (until(b)) return b;
      await sleep(100);
    }
  };
  const record = async (scenario: string, batch: Batch, expected: string, parentId = batch.id) => {
    const done = await wait(batch.id);
    if (done.status !== expected) throw new Error(`${scenario}: ended ${done.status}, expected ${expected}`);
    await sleep(500);
    // The webhook's delivery (a detached child) ends on its own, after the batch.
    await client.workflow.getHandle(`${batch.id}-webhook`).result();
    await recordBatchHistories(client, batch.id, join(outRoot, scenario), parentId);
  };

  try {
    if (wanted('completed-rollover'))
      await record('completed-rollover', await create(lines(400)), 'completed');

    if (wanted('cancelled-rollover')) {
      const cancelled = await create(lines(3000));
      await wait(cancelled.id, (b) => b.request_counts.completed >= 300);
      await openai.batches.cancel(cancelled.id);
      await record('cancelled-rollover', cancelled, 'cancelled');
    }

    // Paused twice (children cancel their chunks and roll over paused), resumed, completed; and
    // paused then cancelled. POST /pause and /resume, as the API's users send them.
    const act = async (id: string, action: 'pause' | 'resume') => {
      const res = await fetch(`${api.url}/v1/batches/${id}/${action}`, { method: 'POST' });
      if (!res.ok) throw new Error(`${action}: ${res.status} ${await res.text()}`);
    };
    if (wanted('paused-resumed')) {
      const paused = await create(lines(1500));
      for (const at of [200, 600]) {
        await wait(paused.id, (b) => b.request_counts.completed >= at);
        await act(paused.id, 'pause');
        // Signals to a paused child lengthen its history: it continues as new, still paused.
        for (let i = 0; i < 20; i++) await client.workflow.getHandle(`${paused.id}-model-0`).signal('pause');
        await sleep(1000);
        await act(paused.id, 'resume');
      }
      await record('paused-resumed', paused, 'completed');
    }
    if (wanted('paused-cancelled')) {
      const paused = await create(lines(3000));
      await wait(paused.id, (b) => b.request_counts.completed >= 300);
      await act(paused.id, 'pause');
      await sleep(1000);
      await openai.batches.cancel(paused.id);
      await record('paused-cancelled', paused, 'cancelled');
    }

    if (wanted('expired'))
      await record('expired', await create(lines(3000), { completion_window: '4s' }), 'expired');
    if (wanted('budget-stop'))
      await record('budget-stop', await create(lines(3000), { x_max_tokens: 2000 }), 'cancelled');
    if (wanted('halted-401'))
      await record('halted-401', await create(lines(3000, (i) => (i === 301 ? ' #sim:401' : ''))), 'failed');

    if (wanted('replay')) {
      const withFailures = await create(lines(200, (i) => (i % 10 === 0 ? ' #sim:500' : '')));
      await wait(withFailures.id);
      const res = await fetch(`${api.url}/v1/batches/${withFailures.id}/replay`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      if (!res.ok) throw new Error(`replay: ${res.status} ${await res.text()}`);
      await record('replay', (await res.json()) as Batch, 'completed');
    }

    if (wanted('webhook-retried')) await record('webhook-retried', await create(lines(40)), 'completed');

    if (wanted('validation-failed'))
      await record('validation-failed', await create(`${lines(5)}\nnot json\n`), 'failed');

    if (wanted('many-models')) {
      // More models than run at once: the fan-out's bound is part of the command sequence.
      const manyModels = Array.from({ length: 40 }, (_, i) =>
        JSON.stringify({
          custom_id: `mm-${i}`,
          method: 'POST',
          url: '/v1/chat/completions',
          body: { model: `model-${i % 20}`, messages: [{ role: 'user', content: `item ${i}` }] },
        }),
      ).join('\n');
      await record('many-models', await create(manyModels), 'completed');
    }

    if (wanted('child-cancelled')) {
      // One child cancelled from the Web UI (a workflow cancellation of its current run).
      const childCancelled = await create(lines(3000));
      await wait(childCancelled.id, (b) => b.request_counts.completed >= 300);
      await client.workflow.getHandle(`${childCancelled.id}-model-0`).cancel();
      await record('child-cancelled', childCancelled, 'cancelled');
    }

    // Started from Temporal with the public input (src/contract): from a Files API id, and refused.
    if (wanted('direct-start')) {
      const file = await uploadJsonl(openai, `${lines(400)}\n`);
      const workflowId = `recorded-direct-${Date.now()}`;
      const handle = await startBatch(
        client,
        { input_file_id: file.id, endpoint: '/v1/chat/completions', metadata: { run: 'nightly' } },
        { workflowId, taskQueue: config.TEMPORAL_TASK_QUEUE },
      );
      await record('direct-start', await handle.result(), 'completed', workflowId);
    }
    if (wanted('direct-start-invalid')) {
      const workflowId = `recorded-direct-invalid-${Date.now()}`;
      const handle = await startBatch(
        client,
        { input_file_id: 'file-none', endpoint: '/v1/chat/completions' },
        { workflowId, taskQueue: config.TEMPORAL_TASK_QUEUE },
      );
      await handle.result().catch(() => undefined);
      await recordBatchHistories(client, 'none', join(outRoot, 'direct-start-invalid'), workflowId);
    }
  } finally {
    await api.close();
    await worker.close();
    await connection.close();
    await sim.close();
    receiver.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
