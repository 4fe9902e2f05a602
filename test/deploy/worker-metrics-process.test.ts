// A worker process as deployed (npm run worker, METRICS_PORT): /metrics has ours and the Temporal SDK's series, /health, JSON state lines.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BATCH_STATE_MSG } from '../../src/observability/batch-events-sink';
import { chatLine, createBatch, waitForBatch } from '../harness/batches';
import { freePort } from '../harness/ports';
import { startProcessStack, type ProcessStack } from '../harness/process-stack';
import {
  isExported,
  PROMETHEUS_SYNTHETIC,
  sampleNames,
  sampleValue,
  usedMetrics,
} from './observability-files';

describe('a worker process with METRICS_PORT', () => {
  let stack: ProcessStack;
  let metricsUrl: string;
  let scrape: string;
  let batchId: string;

  beforeAll(async () => {
    const port = await freePort();
    metricsUrl = `http://127.0.0.1:${port}`;
    stack = await startProcessStack({
      temporalAddress: inject('temporalAddress'),
      workers: 1,
      // Info, for the state-change lines; the start-up line tests wait for is printed at any level.
      env: {
        METRICS_PORT: String(port),
        METRICS_HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RESPONSE_CACHE_TTL_S: '0',
      },
    });
    const lines = Array.from({ length: 6 }, (_, i) =>
      chatLine(`w-${i}`, 'proc-model', `line ${i}${i === 0 ? ' #sim:500x1' : ''}`),
    );
    const batch = await createBatch(stack.openai, lines);
    batchId = batch.id;
    expect((await waitForBatch(stack.openai, batchId)).status).toBe('completed');
    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    scrape = await res.text();
  });
  afterAll(async () => stack?.close());

  it('serves every metric the dashboard and the rules use, the Temporal SDK ones included', () => {
    const samples = sampleNames(scrape);
    const used = [...usedMetrics()].filter((m) => !PROMETHEUS_SYNTHETIC.has(m));
    expect(used.filter((m) => m.startsWith('temporal_')).length).toBeGreaterThanOrEqual(4);
    // The API's own series come from the API's /metrics (observability.test.ts checks them there).
    const workerSide = used.filter((m) => !m.startsWith('batchgw_http_') && m !== 'batchgw_batches');
    expect(workerSide.filter((m) => !isExported(m, samples))).toEqual([]);
    expect(
      sampleValue(scrape, 'batchgw_upstream_requests_total', { model: 'proc-model', status: '500' }),
    ).toBe(1);
    expect(
      sampleValue(scrape, 'batchgw_upstream_requests_total', { model: 'proc-model', status: '200' }),
    ).toBe(6);
    expect(sampleValue(scrape, 'batchgw_batches_finished_total', { status: 'completed' })).toBe(1);
    // The SDK's series carry the task queue: they are this worker's.
    expect(scrape).toMatch(
      /^temporal_workflow_task_schedule_to_start_latency_seconds_count\{[^}]*task_queue="procs-/m,
    );
  });

  it('answers /health with 200 while the worker runs, and 404 elsewhere', async () => {
    const health = await fetch(`${metricsUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok', worker: 'RUNNING' });
    expect((await fetch(`${metricsUrl}/nothing`)).status).toBe(404);
  });

  it('writes the batch state changes as JSON lines on stdout', () => {
    const states = stack.workers[0]
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === BATCH_STATE_MSG && l.batch_id === batchId)
      .map((l) => l.status);
    expect(states).toEqual(['validating', 'in_progress', 'finalizing', 'completed']);
  });

  it('exits on SIGTERM with its metrics server closed (no kill needed)', async () => {
    const worker = stack.workers[0];
    await worker.stop();
    expect(worker.child.signalCode).toBeNull();
    expect(worker.child.exitCode).toBe(0);
    await expect(fetch(`${metricsUrl}/health`)).rejects.toThrow();
  });
});
