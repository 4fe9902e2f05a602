import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import {
  chatLine,
  createBatch,
  readResultFile,
  waitForBatch,
  type RequestLine,
  type ResultLineJson,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// One stack for the whole file. The caps are small so the concurrency test can see them reached;
// the request timeout is small so `#sim:timeout` costs a second per attempt, not two minutes.
const MODEL_CONCURRENCY = 4;
const GLOBAL_CONCURRENCY = 6;
const MAX_ATTEMPTS = 5;
const REQUEST_TIMEOUT_MS = 1000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    {
      MODEL_CONCURRENCY: String(MODEL_CONCURRENCY),
      GLOBAL_CONCURRENCY: String(GLOBAL_CONCURRENCY),
      MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      // Large enough that a Retry-After of 1.5 s is honoured rather than capped.
      RETRY_MAX_MS: '5000',
    },
    { latencyMs: 10, retryAfterS: 1.5 },
  );
});
afterAll(async () => stack?.close());

interface SimBatchStats {
  calls: number;
  inFlight: number;
  maxInFlight: number;
  missingRecordId: number;
  missingAuthorization: number;
  records: number;
  byStatus: Record<string, number>;
  lastHeaders: Record<string, string | string[] | undefined> | null;
}

/** Per-batch counters over the simulator's HTTP control plane (what an operator would read). */
async function simBatch(id: string): Promise<SimBatchStats> {
  const res = await fetch(`${stack.sim.url}/_sim/batches/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as SimBatchStats;
}

/** custom_id → calls the simulator received for it. */
async function simRecords(id: string): Promise<Record<string, number>> {
  const res = await fetch(`${stack.sim.url}/_sim/records?batch=${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, number>;
}

async function results(
  b: Batch,
): Promise<{ output: ResultLineJson[]; errors: ResultLineJson[]; byId: Map<string, ResultLineJson> }> {
  const output = await readResultFile(stack.openai, b.output_file_id);
  const errors = await readResultFile(stack.openai, b.error_file_id);
  const byId = new Map<string, ResultLineJson>();
  for (const line of [...output, ...errors]) {
    expect(byId.has(line.custom_id), `custom_id ${line.custom_id} appears twice`).toBe(false);
    byId.set(line.custom_id, line);
  }
  return { output, errors, byId };
}

/** The simulator numbers calls in arrival order and returns the number as x-request-id (`req_<hex>`). */
const callSeq = (line: ResultLineJson): number =>
  parseInt(line.response!.request_id.replace(/^req_/, ''), 16);

describe('per-record gateway answers', () => {
  it('blocks 409s, retries 429/5xx/timeouts/resets up to MAX_ATTEMPTS, keeps other 4xx, and tags every call', async () => {
    // For each marker: how many records carry it, the calls each must take, and where it must end.
    const cases: { marker: string; count: number; calls: number; ends: 'ok' | number | 'request_timeout' }[] =
      [
        { marker: '', count: 20, calls: 1, ends: 'ok' },
        { marker: '#sim:409', count: 3, calls: 1, ends: 409 },
        { marker: '#sim:429x2', count: 2, calls: 3, ends: 'ok' },
        { marker: '#sim:500x3', count: 2, calls: 4, ends: 'ok' },
        { marker: '#sim:502x1', count: 2, calls: 2, ends: 'ok' },
        { marker: '#sim:500', count: 2, calls: MAX_ATTEMPTS, ends: 500 },
        { marker: '#sim:timeoutx1', count: 2, calls: 2, ends: 'ok' },
        { marker: '#sim:timeout', count: 1, calls: MAX_ATTEMPTS, ends: 'request_timeout' },
        { marker: '#sim:resetx1', count: 2, calls: 2, ends: 'ok' },
        { marker: '#sim:400', count: 2, calls: 1, ends: 400 },
        { marker: '#sim:422', count: 2, calls: 1, ends: 422 },
      ];
    const lines: RequestLine[] = [];
    const expected = new Map<string, (typeof cases)[number]>();
    for (const c of cases) {
      for (let i = 0; i < c.count; i++) {
        const id = `${c.marker ? c.marker.slice(5) : 'ok'}-${i}`;
        lines.push(chatLine(id, 'gpt-4o-mini', `question ${id} ${c.marker}`));
        expected.set(id, c);
      }
    }

    const created = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('completed');
    expect(done.errors).toBeNull();

    const { output, errors, byId } = await results(done);
    expect(byId.size).toBe(lines.length);
    const okCount = [...expected.values()].filter((c) => c.ends === 'ok').length;
    expect(output).toHaveLength(okCount);
    expect(errors).toHaveLength(lines.length - okCount);
    expect(done.request_counts).toEqual({
      total: lines.length,
      completed: okCount,
      failed: lines.length - okCount,
    });

    const calls = await simRecords(done.id);
    for (const [id, c] of expected) {
      const line = byId.get(id)!;
      expect(calls[id], `calls for ${id}`).toBe(c.calls);
      if (c.ends === 'ok') {
        expect(output).toContain(line);
        expect(line.error, id).toBeNull();
        expect(line.response!.status_code, id).toBe(200);
        expect(line.response!.body.object, id).toBe('chat.completion');
      } else if (c.ends === 'request_timeout') {
        expect(errors).toContain(line);
        expect(line.response, id).toBeNull();
        expect(line.error!.code, id).toBe('request_timeout');
        expect(line.error!.message).toMatch(new RegExp(`after ${MAX_ATTEMPTS} attempts`));
      } else {
        // A final HTTP answer: the upstream status and body, no error object (contract: error lines).
        expect(errors).toContain(line);
        expect(line.error, id).toBeNull();
        expect(line.response!.status_code, id).toBe(c.ends);
        expect(line.response!.request_id, id).toMatch(/^req_/);
        expect(line.response!.body.error, id).toBeTruthy();
      }
    }
    for (const id of ['409-0', '409-1', '409-2']) {
      const body = byId.get(id)!.response!.body;
      expect(body.error.code).toBe('policy_blocked');
      expect(body.error.type).toBe('policy_violation');
    }
    expect(byId.get('500-0')!.response!.body.error.code).toBe('internal_error');
    expect(byId.get('422-0')!.response!.body.error.code).toBe('unprocessable_entity');

    // Audit headers: every call carried X-Batch-Id (else it would count under another batch) and an
    // X-Record-Id equal to the custom_id (else missingRecordId > 0 and the record keys would differ).
    const stats = await simBatch(done.id);
    const expectedCalls = [...expected.values()].reduce((n, c) => n + c.calls, 0);
    expect(stats.calls).toBe(expectedCalls);
    expect(stats.missingRecordId).toBe(0);
    expect(stats.inFlight).toBe(0);
    expect(Object.keys(calls).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(stack.sim.batch('-').calls).toBe(0);
    expect(stats.lastHeaders!['x-batch-id']).toBe(done.id);
    expect(typeof stats.lastHeaders!['x-record-id']).toBe('string');
  });

  it('waits for Retry-After on 429 before retrying', async () => {
    const lines = Array.from({ length: 3 }, (_, i) =>
      chatLine(`rl-${i}`, 'gpt-4o-mini', `slow down ${i} #sim:429x2`),
    );
    const started = Date.now();
    const created = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, created.id);
    const elapsed = Date.now() - started;
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const calls = await simRecords(done.id);
    for (const l of lines) expect(calls[l.custom_id]).toBe(3);
    // Two waits of Retry-After: 1.5 s each. Exponential backoff alone (base 20 ms) would take ~60 ms.
    expect(elapsed).toBeGreaterThanOrEqual(3000);
  });
});

describe('gateway refuses the credentials', () => {
  it.each([401, 403])('halts the whole batch on the first %i and makes no further calls', async (status) => {
    const latencyMs = 100;
    stack.sim.configure({ latencyMs });
    try {
      const total = 400;
      const refusedId = 'r-0006';
      // Sent in the first round and answered 429 on every attempt: it is waiting out Retry-After
      // when the refusal comes (second round), and must not be sent again.
      const retryingId = 'r-0001';
      const marker = (id: string) =>
        id === refusedId ? ` #sim:${status}` : id === retryingId ? ' #sim:429' : '';
      const lines = Array.from({ length: total }, (_, i) => {
        const id = `r-${String(i).padStart(4, '0')}`;
        return chatLine(id, 'gpt-4o-mini', `q ${i}${marker(id)}`);
      });
      // Sending everything takes total / MODEL_CONCURRENCY rounds of latency.
      const fullRunMs = (total / MODEL_CONCURRENCY) * latencyMs;

      const started = Date.now();
      const created = await createBatch(stack.openai, lines);
      const done = await waitForBatch(stack.openai, created.id);
      const elapsed = Date.now() - started;
      BatchSchema.parse(done);
      expect(done.status).toBe('failed');
      expect(done.failed_at).not.toBeNull();
      expect(done.errors!.data[0].code).toBe('gateway_auth_failed');
      expect(done.errors!.data[0].message).toContain(String(status));
      expect(elapsed).toBeLessThan(fullRunMs / 2);

      // No more calls once the batch has failed.
      const after1 = await simBatch(done.id);
      await new Promise((r) => setTimeout(r, 1000));
      const after2 = await simBatch(done.id);
      expect(after2.calls).toBe(after1.calls);
      expect(after2.inFlight).toBe(0);
      expect(after1.calls).toBeLessThan(total / 2);

      const { output, errors, byId } = await results(done);
      expect([...byId.keys()].sort()).toEqual(lines.map((l) => l.custom_id).sort());
      expect(done.request_counts).toEqual({ total, completed: output.length, failed: errors.length });

      const refused = byId.get(refusedId)!;
      expect(errors).toContain(refused);
      expect(refused.response!.status_code).toBe(status);
      expect(refused.error).toBeNull();

      // Every other call is accounted for by exactly one answered line, and the records without a
      // final answer are `batch_failed` error lines.
      const calls = await simRecords(done.id);
      expect(calls[retryingId]).toBe(1);
      const retrying = byId.get(retryingId)!;
      expect(retrying.response).toBeNull();
      expect(retrying.error!.code).toBe('batch_failed');
      const answered = [...byId.values()].filter((l) => l.response !== null);
      expect(answered.length).toBe(after2.calls - 1);
      for (const line of byId.values()) {
        if (line.custom_id === retryingId) continue;
        if (line.response) {
          expect(calls[line.custom_id], line.custom_id).toBe(1);
          if (line.custom_id !== refusedId) expect(line.response.status_code).toBe(200);
        } else {
          expect(calls[line.custom_id], line.custom_id).toBeUndefined();
          expect(line.error!.code).toBe('batch_failed');
        }
      }
      expect(output.every((l) => l.response!.status_code === 200)).toBe(true);

      // Calls that reached the gateway after the refused one were already in flight (or took a slot
      // freed while the refusal was on its way): at most the concurrency cap.
      const refusedSeq = callSeq(refused);
      const later = answered.filter((l) => callSeq(l) > refusedSeq);
      expect(later.length).toBeLessThanOrEqual(MODEL_CONCURRENCY);
    } finally {
      stack.sim.configure({ latencyMs: 10 });
    }
  });
});

describe('bounded concurrency', () => {
  it('never exceeds the global and per-model caps, and reaches the global cap', async () => {
    stack.sim.configure({ latencyMs: 100 });
    stack.sim.reset();
    try {
      const models = ['gpt-4o', 'gpt-4o-mini'];
      const lines = Array.from({ length: 120 }, (_, i) => chatLine(`c-${i}`, models[i % 2], `load ${i}`));
      const created = await createBatch(stack.openai, lines);
      const done = await waitForBatch(stack.openai, created.id);
      expect(done.status).toBe('completed');
      expect(done.request_counts).toEqual({ total: 120, completed: 120, failed: 0 });

      const stats = stack.sim.stats();
      expect(stats.calls).toBe(120);
      expect(stats.maxInFlight).toBe(GLOBAL_CONCURRENCY);
      for (const m of models) {
        expect(stats.byModel[m].calls).toBe(60);
        expect(stats.byModel[m].maxInFlight).toBeLessThanOrEqual(MODEL_CONCURRENCY);
        // 6 at once over two models capped at 4 each means each model ran at least 2 at once.
        expect(stats.byModel[m].maxInFlight).toBeGreaterThanOrEqual(GLOBAL_CONCURRENCY - MODEL_CONCURRENCY);
      }
      const b = await simBatch(done.id);
      expect(b.maxInFlight).toBe(GLOBAL_CONCURRENCY);
      expect(b.missingRecordId).toBe(0);
      expect(b.records).toBe(120);
    } finally {
      stack.sim.configure({ latencyMs: 10 });
    }
  });
});
