// Traces end to end: one POST /v1/batches, with a client's traceparent, is one trace through the
// API, the workflow, its child, the activities and every gateway call; spans reach an OTLP/HTTP
// receiver with the right service name; log lines carry the trace id; with tracing off, nothing.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { BATCH_STATE_MSG } from '../src/observability/batch-events-sink';
import { createLogger } from '../src/observability/logger';
import { startTracing, type Tracing } from '../src/observability/tracing';
import { chatLine, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { spawnEntry, type Proc } from './harness/processes';
import { startStack, type Stack } from './harness/stack';

const GATEWAY_KEY = 'sk-gateway-secret-7f3a';
const PROMPT_MARK = 'prompt-text-never-in-a-span';
const hex = (n: number) =>
  Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
const newTraceparent = () => {
  const traceId = hex(32);
  const parentId = hex(16);
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => T | null | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const LINES = [
  chatLine('a', 'gpt-4o-mini', `hello ${PROMPT_MARK}`),
  // One 429 first: a second attempt, its own span.
  chatLine('b', 'gpt-4o-mini', 'retried #sim:429x1'),
  chatLine('c', 'gpt-4o', 'another model'),
];

async function createTraced(
  stack: Stack,
  apiUrl: string,
  traceparent?: string,
): Promise<{ batch: Batch; status: number }> {
  const file = await uploadJsonl(stack.openai, toJsonl(LINES));
  const res = await fetch(`${apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(traceparent ? { traceparent } : {}) },
    body: JSON.stringify({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    }),
  });
  return { batch: (await res.json()) as Batch, status: res.status };
}

/** A worker logger whose JSON lines the test reads. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { LOG_LEVEL: 'info' },
    { destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } },
  );
  return {
    logger,
    stateLines: (batchId: string) => lines.filter((l) => l.msg === BATCH_STATE_MSG && l.batch_id === batchId),
  };
}

const inTrace = (spans: ReadableSpan[], traceId: string) =>
  spans.filter((s) => s.spanContext().traceId === traceId);
const named = (spans: ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

describe('tracing on', () => {
  let exporter: InMemorySpanExporter;
  let tracing: Tracing;
  let stack: Stack;
  const workerLog = capturedLogger();
  beforeAll(async () => {
    exporter = new InMemorySpanExporter();
    tracing = startTracing('batch-gateway-test', {}, { exporter })!;
    // The model children run their chunks one segment at a time: several activities per child.
    stack = await startStack(
      { GATEWAY_API_KEY: GATEWAY_KEY, SEGMENT_SIZE: '1' },
      {},
      { logger: workerLog.logger },
    );
  });
  afterAll(async () => {
    await stack?.close();
    await tracing?.shutdown();
  });

  it('one trace from the HTTP request through the workflows and activities to each gateway call', async () => {
    const tp = newTraceparent();
    const { batch, status } = await createTraced(stack, stack.apiUrl, tp.header);
    expect(status).toBe(200);
    const done = await waitForBatch(stack.openai, batch.id);
    expect(done.status).toBe('completed');
    // Workflow spans leave the sandbox as they end: the parent's run ends last.
    const spans = await until('the batch workflow run span', () => {
      const all = inTrace(exporter.getFinishedSpans(), tp.traceId);
      return named(all, 'RunWorkflow:batchWorkflow').length > 0 ? all : null;
    });

    // The API's span continues the client's: its parent is the client's span id.
    const [http] = named(spans, 'POST /v1/batches');
    expect(http).toBeDefined();
    expect(http.kind).toBe(SpanKind.SERVER);
    expect(http.parentSpanId).toBe(tp.parentId);
    expect(http.attributes['http.route']).toBe('/v1/batches');
    expect(http.attributes['http.response.status_code']).toBe(200);
    expect(named(spans, 'StartWorkflow:batchWorkflow')).toHaveLength(1);

    // The workflow, its children (one per model) and their activities, all in the request's trace.
    expect(named(spans, 'RunWorkflow:batchWorkflow')).toHaveLength(1);
    expect(named(spans, 'StartChildWorkflow:modelShardWorkflow')).toHaveLength(2);
    expect(named(spans, 'RunWorkflow:modelShardWorkflow')).toHaveLength(2);
    for (const activity of ['ingest', 'processChunk', 'finalize']) {
      expect(named(spans, `StartActivity:${activity}`).length, activity).toBeGreaterThan(0);
      expect(named(spans, `RunActivity:${activity}`).length, activity).toBeGreaterThan(0);
    }
    // 3 chunks (one per segment): 3 processChunk runs.
    expect(named(spans, 'RunActivity:processChunk')).toHaveLength(3);

    // Every attempt to the gateway is a client span of a processChunk run, with model, batch,
    // attempt and status; as many as the gateway saw.
    const calls = named(spans, 'POST /v1/chat/completions');
    const sim = stack.sim.batch(batch.id);
    expect(sim.calls).toBe(4);
    expect(calls).toHaveLength(sim.calls);
    const chunkRuns = new Set(named(spans, 'RunActivity:processChunk').map((s) => s.spanContext().spanId));
    for (const call of calls) {
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(chunkRuns.has(call.parentSpanId!)).toBe(true);
      expect(call.attributes['batch.id']).toBe(batch.id);
    }
    const summary = calls
      .map(
        (c) =>
          `${c.attributes['gen_ai.request.model']} ${c.attributes['batch.attempt']} ${c.attributes['http.response.status_code']}`,
      )
      .sort();
    expect(summary).toEqual(['gpt-4o 1 200', 'gpt-4o-mini 1 200', 'gpt-4o-mini 1 429', 'gpt-4o-mini 2 200']);

    // The gateway got the trace: the last call's traceparent names this trace and one of its spans.
    const traceparent = String(sim.lastHeaders?.traceparent ?? '');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(traceparent);
    expect(m, traceparent).not.toBeNull();
    expect(m![1]).toBe(tp.traceId);
    expect(calls.map((c) => c.spanContext().spanId)).toContain(m![2]);
    // The client's baggage is not a header we propagate.
    expect(sim.lastHeaders?.baggage).toBeUndefined();

    // Never a body or a key in any span of the trace.
    const recorded = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]));
    expect(recorded).not.toContain(PROMPT_MARK);
    expect(recorded).not.toContain(GATEWAY_KEY);
    expect(recorded).not.toContain('#sim:');

    // The worker's state-change lines (validating … completed) carry the trace, and the run's span.
    const states = workerLog.stateLines(batch.id);
    expect(states.map((l) => l.status)).toContain('completed');
    for (const line of states) expect(line.trace_id, JSON.stringify(line)).toBe(tp.traceId);
    const run = named(spans, 'RunWorkflow:batchWorkflow')[0].spanContext().spanId;
    expect(states.some((l) => l.span_id === run)).toBe(true);
  });

  it('a request without a traceparent starts a trace of its own', async () => {
    const before = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().spanId));
    const res = await fetch(`${stack.apiUrl}/v1/batches/batch_doesnotexist`);
    expect(res.status).toBe(404);
    const span = await until('the GET span', () =>
      exporter
        .getFinishedSpans()
        .find((s) => !before.has(s.spanContext().spanId) && s.name === 'GET /v1/batches/:id'),
    );
    expect(span.parentSpanId).toBeUndefined();
    expect(span.attributes['http.response.status_code']).toBe(404);
  });

  describe('over OTLP/HTTP, across processes', () => {
    let receiver: Server;
    let receiverUrl: string;
    const posts: { path: string; body: OtlpBody }[] = [];
    let api: Proc;
    beforeAll(async () => {
      receiver = createServer((req, res) => {
        let text = '';
        req.on('data', (d: Buffer) => (text += d.toString()));
        req.on('end', () => {
          posts.push({ path: req.url ?? '', body: JSON.parse(text) as OtlpBody });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        });
      });
      receiver.listen(0, '127.0.0.1');
      await once(receiver, 'listening');
      const addr = receiver.address();
      receiverUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      // The API as its own process (its entry point starts tracing), on the stack's Temporal, task
      // queue and storage: the in-process worker runs what it starts.
      api = await spawnEntry(
        'api',
        'src/main/api.ts',
        {
          TEMPORAL_ADDRESS: stack.config.TEMPORAL_ADDRESS,
          TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
          DATA_DIR: stack.config.DATA_DIR,
          PORT: '0',
          LOG_LEVEL: 'info',
          OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl,
          OTEL_SERVICE_NAME: '',
        },
        /batch gateway API listening on \S+\/v1/,
      );
    });
    afterAll(async () => {
      await api?.stop();
      receiver?.close();
    });

    it('the API process exports its spans to OTEL_EXPORTER_OTLP_ENDPOINT; the worker continues its trace', async () => {
      const apiUrl = /batch gateway API listening on (\S+)\/v1/.exec(api.output())![1];
      const tp = newTraceparent();
      const { batch, status } = await createTraced(stack, apiUrl, tp.header);
      expect(status).toBe(200);
      expect((await waitForBatch(stack.openai, batch.id)).status).toBe('completed');
      // SIGTERM: the API flushes its spans before it exits.
      await api.stop();

      expect(posts.length).toBeGreaterThan(0);
      expect(new Set(posts.map((p) => p.path))).toEqual(new Set(['/v1/traces']));
      const exported = posts.flatMap((p) =>
        p.body.resourceSpans.flatMap((r) =>
          r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, service: serviceOf(r) }))),
        ),
      );
      expect(exported.length).toBeGreaterThan(0);
      expect(new Set(exported.map((s) => s.service))).toEqual(new Set(['batch-gateway-api']));
      const create = exported.find((s) => s.name === 'POST /v1/batches');
      expect(create?.traceId).toBe(tp.traceId);
      expect(create?.parentSpanId).toBe(tp.parentId);
      expect(exported.some((s) => s.name === 'StartWorkflow:batchWorkflow' && s.traceId === tp.traceId)).toBe(
        true,
      );

      // In the other process (this one's worker), the workflow and gateway calls join that trace.
      const worker = await until('the worker spans of that trace', () => {
        const all = inTrace(exporter.getFinishedSpans(), tp.traceId);
        return named(all, 'RunWorkflow:batchWorkflow').length > 0 ? all : null;
      });
      expect(named(worker, 'POST /v1/chat/completions')).toHaveLength(stack.sim.batch(batch.id).calls);

      // The API's log line for that request carries its trace id (pino's mixin).
      const lines = api
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const completed = lines.find((l) => l.msg === 'request completed' && l.trace_id === tp.traceId);
      expect(completed, api.output().slice(-3000)).toBeDefined();
      expect(completed!.span_id).toBe(create!.spanId);
    });
  });
});

describe('tracing off', () => {
  let stack: Stack;
  const workerLog = capturedLogger();
  beforeAll(async () => {
    stack = await startStack({}, {}, { logger: workerLog.logger });
  });
  afterAll(async () => stack?.close());

  it('sends no traceparent upstream, even when the client sent one', async () => {
    const { batch, status } = await createTraced(stack, stack.apiUrl, newTraceparent().header);
    expect(status).toBe(200);
    expect((await waitForBatch(stack.openai, batch.id)).status).toBe('completed');
    const sim = stack.sim.batch(batch.id);
    expect(sim.calls).toBeGreaterThan(0);
    expect(sim.lastHeaders).not.toBeNull();
    expect(sim.lastHeaders?.traceparent).toBeUndefined();
    expect(sim.lastHeaders?.tracestate).toBeUndefined();
    // No trace ids in the logs either (the workflow's own spans go nowhere).
    const states = workerLog.stateLines(batch.id);
    expect(states.length).toBeGreaterThan(0);
    for (const line of states) expect(line).not.toHaveProperty('trace_id');
  });
});

interface OtlpBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: { traceId: string; spanId: string; parentSpanId?: string; name: string }[] }[];
  }[];
}
const serviceOf = (r: OtlpBody['resourceSpans'][number]) =>
  r.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue;
