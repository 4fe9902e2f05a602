// The deploy files (dashboard, alert rules) are valid and use only exported metrics; the metrics and state-change logs are right.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger';
import { BATCH_STATE_MSG } from '../../src/observability/batch-events-sink';
import { BATCH_COUNT_TTL_MS } from '../../src/observability/metrics-api';
import { chatLine, createBatch, waitForBatch } from '../harness/batches';
import { startStack, type Stack } from '../harness/stack';
import {
  allExpressions,
  isExported,
  parsePromql,
  PROMETHEUS_SYNTHETIC,
  readAlerts,
  readDashboard,
  sampleNames,
  sampleValue,
  usedMetrics,
} from './observability-files';

describe('deploy/grafana-dashboard.json and deploy/prometheus-alerts.yml', () => {
  it('the dashboard is well-formed: every panel has a datasource and targets with an expression', () => {
    const d = readDashboard();
    expect(d.uid).toBeTruthy();
    expect(d.title).toBeTruthy();
    expect(Array.isArray(d.panels)).toBe(true);
    const ids = new Set<number>();
    const graphs = d.panels.filter((p: { type: string }) => p.type !== 'row');
    expect(graphs.length).toBeGreaterThanOrEqual(12);
    for (const p of d.panels) {
      expect(ids.has(p.id), `panel id ${p.id} twice`).toBe(false);
      ids.add(p.id);
      expect(p.gridPos, `panel ${p.id} has a place`).toMatchObject({
        w: expect.any(Number),
        h: expect.any(Number),
        x: expect.any(Number),
        y: expect.any(Number),
      });
      expect(p.gridPos.x + p.gridPos.w, `panel ${p.id} fits the 24 columns`).toBeLessThanOrEqual(24);
      if (p.type === 'row') continue;
      expect(p.title, `panel ${p.id}`).toBeTruthy();
      expect(p.datasource?.type, `panel ${p.id} "${p.title}"`).toBe('prometheus');
      expect(p.targets?.length, `panel ${p.id} "${p.title}" has targets`).toBeGreaterThan(0);
      const refIds = new Set<string>();
      for (const t of p.targets) {
        expect(typeof t.expr === 'string' && t.expr.trim().length > 0, `panel ${p.id} ${t.refId} expr`).toBe(
          true,
        );
        expect(t.datasource?.type, `panel ${p.id} ${t.refId} datasource`).toBe('prometheus');
        expect(refIds.has(t.refId), `panel ${p.id} refId ${t.refId} twice`).toBe(false);
        refIds.add(t.refId);
      }
    }
    // The datasource variable the panels name exists.
    expect(d.templating.list.map((v: { name: string }) => v.name)).toContain('datasource');
    // What the brief asks to see, by metric.
    const used = usedMetrics();
    for (const m of [
      'batchgw_batches_finished_total',
      'batchgw_batches',
      'batchgw_upstream_in_flight',
      'batchgw_upstream_concurrency_cap',
      'batchgw_upstream_concurrency_limit',
      'batchgw_upstream_requests_total',
      'batchgw_upstream_retries_total',
      'batchgw_upstream_tokens_total',
      'batchgw_batch_duration_seconds_bucket',
      'batchgw_batch_first_upstream_call_seconds_bucket',
      'batchgw_http_request_duration_seconds_bucket',
      'temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
      'temporal_activity_schedule_to_start_latency_seconds_bucket',
    ])
      expect(used, m).toContain(m);
  });

  it('the rules file has valid alerting rules', () => {
    const doc = readAlerts();
    expect(Array.isArray(doc.groups)).toBe(true);
    const groups = new Set<string>();
    const alerts = new Set<string>();
    for (const g of doc.groups) {
      expect(typeof g.name).toBe('string');
      expect(groups.has(g.name), `group ${g.name} twice`).toBe(false);
      groups.add(g.name);
      expect(g.rules.length).toBeGreaterThan(0);
      for (const r of g.rules) {
        expect(
          Object.keys(r).every((k) => ['alert', 'expr', 'for', 'labels', 'annotations'].includes(k)),
          JSON.stringify(r),
        ).toBe(true);
        expect(r.alert).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
        expect(alerts.has(r.alert), `alert ${r.alert} twice`).toBe(false);
        alerts.add(r.alert);
        expect(typeof r.expr).toBe('string');
        if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^(\d+(ms|s|m|h|d|w|y))+$/);
        expect(['critical', 'warning', 'info'], r.alert).toContain(r.labels?.severity);
        expect(typeof r.annotations?.summary, r.alert).toBe('string');
      }
    }
    for (const a of [
      'BatchGatewayUpstream5xxHigh',
      'BatchGatewayUpstream429High',
      'BatchGatewayGatewayAuthFailures',
      'BatchGatewayBatchesFailing',
      'BatchGatewayBatchesStuck',
      'BatchGatewayNoWorkerMetrics',
      'BatchGatewayActivityScheduleToStartHigh',
      'BatchGatewayWorkflowTaskScheduleToStartHigh',
    ])
      expect(alerts, a).toContain(a);
  });

  it('every expression parses as PromQL (the Prometheus project lezer grammar)', () => {
    const exprs = allExpressions();
    expect(exprs.length).toBeGreaterThan(30);
    for (const e of exprs) {
      const { metrics, errors } = parsePromql(e.promql);
      expect(errors, `${e.where}: ${e.promql}`).toEqual([]);
      expect(metrics.length, `${e.where} selects a metric`).toBeGreaterThan(0);
    }
    // The parser does find mistakes (so the check above can fail).
    expect(parsePromql('sum(rate(batchgw_upstream_requests_total[5m])').errors.length).toBeGreaterThan(0);
    expect(parsePromql('up == 1 and').errors.length).toBeGreaterThan(0);
  });
});

describe('metrics and state-change logs of a real API and worker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'batchgw-observability-'));
  const keysFile = join(dir, 'keys.json');
  const logLines: string[] = [];
  const SECRET_TEXT = 'body-text-that-must-never-be-logged';
  let stack: Stack;
  let batchId: string;
  let apiBefore: string;
  let workerBefore: string;
  let apiAfter: string;
  let workerAfter: string;

  const scrape = async (url: string) => {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    return res.text();
  };
  const stateLines = (id: string) =>
    logLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === BATCH_STATE_MSG && l.batch_id === id);
  const delta = (name: string, labels: Record<string, string>, before: string, after: string) =>
    (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);

  beforeAll(async () => {
    // Keys mode: /metrics must answer without a key while /v1 refuses.
    writeFileSync(keysFile, JSON.stringify({ 'test-key': 'metrics-team' }));
    const logger = createLogger(
      { LOG_LEVEL: 'info' },
      { destination: { write: (s: string) => void logLines.push(s) } },
    );
    stack = await startStack(
      { METRICS_PORT: '0', API_KEYS_FILE: keysFile, RESPONSE_CACHE_TTL_S: '0', MODEL_CONCURRENCY: '4' },
      {},
      { logger },
    );
    expect(stack.workerMetrics).not.toBeNull();
    apiBefore = await scrape(stack.apiUrl);
    workerBefore = await scrape(stack.workerMetrics!.url);

    // 12 requests: 10 on one model (3 blocked with 409, 1 throttled once with 429 then answered),
    // 2 on a model named like an Object.prototype key.
    const lines = [
      ...Array.from({ length: 10 }, (_, i) => {
        const marker = i < 3 ? ' #sim:409' : i === 3 ? ' #sim:429x1' : '';
        return chatLine(`m-${i}`, 'metrics-model', `${SECRET_TEXT} ${i}${marker}`);
      }),
      chatLine('p-0', '__proto__', `${SECRET_TEXT} p0`),
      chatLine('p-1', '__proto__', `${SECRET_TEXT} p1`),
    ];
    const created = await createBatch(stack.openai, lines);
    batchId = created.id;
    const done = await waitForBatch(stack.openai, batchId);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 12, completed: 9, failed: 3 });
    // A request no route matches: its raw URL must not become a label.
    const unknown = await fetch(`${stack.apiUrl}/v1/no-such-route-xyz`, {
      headers: { authorization: 'Bearer test-key' },
    });
    expect(unknown.status).toBe(404);
    apiAfter = await scrape(stack.apiUrl);
    workerAfter = await scrape(stack.workerMetrics!.url);
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics without an API key, while /v1 needs one; the worker serves /health', async () => {
    expect((await fetch(`${stack.apiUrl}/v1/batches`)).status).toBe(401);
    expect((await fetch(`${stack.apiUrl}/metrics`)).status).toBe(200);
    const health = await fetch(`${stack.workerMetrics!.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', worker: 'RUNNING' });
  });

  it('exports every metric the dashboard and the rules use (the temporal_* ones: worker-metrics-process.test.ts)', () => {
    const samples = new Set([...sampleNames(apiAfter), ...sampleNames(workerAfter)]);
    const missing = [...usedMetrics()].filter(
      (m) => !m.startsWith('temporal_') && !PROMETHEUS_SYNTHETIC.has(m) && !isExported(m, samples),
    );
    expect(missing).toEqual([]);
  });

  it('counts upstream answers by status: N−k 200, k 409, the 429 and its retry', () => {
    const m = { model: 'metrics-model' };
    const d = (name: string, labels: Record<string, string>) =>
      delta(name, labels, workerBefore, workerAfter);
    expect(d('batchgw_upstream_requests_total', { ...m, status: '200' })).toBe(7);
    expect(d('batchgw_upstream_requests_total', { ...m, status: '409' })).toBe(3);
    expect(d('batchgw_upstream_requests_total', { ...m, status: '429' })).toBe(1);
    expect(d('batchgw_upstream_retries_total', m)).toBe(1);
    expect(sampleValue(workerAfter, 'batchgw_upstream_in_flight', m)).toBe(0);
    expect(d('batchgw_upstream_tokens_total', { ...m, direction: 'input' })).toBeGreaterThan(0);
    expect(d('batchgw_upstream_tokens_total', { ...m, direction: 'output' })).toBeGreaterThan(0);
    expect(sampleValue(workerAfter, 'batchgw_upstream_concurrency_cap', m)).toBe(4);
    const limit = sampleValue(workerAfter, 'batchgw_upstream_concurrency_limit', m)!;
    expect(limit).toBeGreaterThanOrEqual(1);
    expect(limit).toBeLessThanOrEqual(4);
    // A model named __proto__ is a label value like any other.
    expect(d('batchgw_upstream_requests_total', { model: '__proto__', status: '200' })).toBe(2);
  });

  it('counts the batch: one completed, its duration and its time to first upstream call', () => {
    const d = (name: string, labels: Record<string, string> = {}) =>
      delta(name, labels, workerBefore, workerAfter);
    expect(d('batchgw_batches_finished_total', { status: 'completed' })).toBe(1);
    expect(d('batchgw_batches_finished_total', { status: 'failed' })).toBe(0);
    for (const s of ['validating', 'in_progress', 'finalizing', 'completed'])
      expect(d('batchgw_batch_state_changes_total', { status: s }), s).toBe(1);
    expect(d('batchgw_batch_duration_seconds_count', { status: 'completed' })).toBe(1);
    const duration = d('batchgw_batch_duration_seconds_sum', { status: 'completed' });
    expect(duration).toBeGreaterThan(0);
    expect(duration).toBeLessThan(120);
    expect(d('batchgw_batch_first_upstream_call_seconds_count')).toBe(1);
    const firstCall = d('batchgw_batch_first_upstream_call_seconds_sum');
    expect(firstCall).toBeGreaterThan(0);
    expect(firstCall).toBeLessThanOrEqual(duration);
  });

  it('times API requests by route template, never by raw URL; counts batches by status', async () => {
    const route = (r: string, method: string, status: string) =>
      delta('batchgw_http_request_duration_seconds_count', { method, route: r, status }, apiBefore, apiAfter);
    expect(route('/v1/files', 'POST', '200')).toBe(1);
    expect(route('/v1/batches', 'POST', '200')).toBe(1);
    expect(route('/v1/batches/:id', 'GET', '200')).toBeGreaterThanOrEqual(1);
    expect(route('unmatched', 'GET', '404')).toBe(1);
    expect(apiAfter).not.toContain('no-such-route-xyz');
    expect(apiAfter).not.toContain(batchId);
    expect(apiAfter).not.toContain('test-key');
    expect(apiAfter).not.toContain('metrics-team');
    // Cluster-wide, from visibility (other test files' batches count too), counted at most every
    // BATCH_COUNT_TTL_MS: this batch shows up within that and visibility's lag.
    const deadline = Date.now() + BATCH_COUNT_TTL_MS + 20_000;
    let completed = sampleValue(apiAfter, 'batchgw_batches', { status: 'completed' }) ?? 0;
    while (completed < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 1000));
      completed = sampleValue(await scrape(stack.apiUrl), 'batchgw_batches', { status: 'completed' }) ?? 0;
    }
    expect(completed).toBeGreaterThanOrEqual(1);
  });

  it('logs one structured line per state change, with ids, tenant, models and counts, never bodies', () => {
    const lines = stateLines(batchId);
    expect(lines.map((l) => l.status)).toEqual(['validating', 'in_progress', 'finalizing', 'completed']);
    for (const l of lines) {
      expect(l).toMatchObject({
        event: 'batch_state_changed',
        batch_id: batchId,
        tenant: 'metrics-team',
        level: 30,
      });
      expect(l.workflow_id).toBe(batchId);
    }
    expect(lines[0].models).toEqual([]);
    expect(lines[1]).toMatchObject({
      models: ['metrics-model', '__proto__'],
      model_count: 2,
      request_counts: { total: 12, completed: 0, failed: 0 },
    });
    expect(lines[3]).toMatchObject({ request_counts: { total: 12, completed: 9, failed: 3 } });
    expect(lines[3].duration_s).toBeGreaterThan(0);
    const all = logLines.join('\n');
    expect(all).not.toContain(SECRET_TEXT);
    expect(all).not.toContain('test-key');
  });

  it('logs and counts cancelling → cancelled for a cancelled batch', async () => {
    const before = await scrape(stack.workerMetrics!.url);
    const slow = Array.from({ length: 8 }, (_, i) =>
      chatLine(`s-${i}`, 'metrics-slow', `slow ${i} #sim:delay=1500`),
    );
    const created = await createBatch(stack.openai, slow);
    await waitForBatch(stack.openai, created.id, (b) => b.status === 'in_progress');
    await stack.openai.batches.cancel(created.id);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    const statuses = stateLines(created.id).map((l) => l.status);
    expect(statuses).toEqual(['validating', 'in_progress', 'cancelling', 'cancelled']);
    const after = await scrape(stack.workerMetrics!.url);
    expect(delta('batchgw_batches_finished_total', { status: 'cancelled' }, before, after)).toBe(1);
    expect(delta('batchgw_batch_state_changes_total', { status: 'cancelling' }, before, after)).toBe(1);
  });
});
