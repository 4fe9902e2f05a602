// One record of a batch (GET /v1/batches/{id}/requests/{custom_id}: every gateway attempt, state,
// result) and the lines finished so far (GET /v1/batches/{id}/results), end to end: our API over
// HTTP, a real worker and Temporal, the simulator's faults; read through both official clients.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordView } from '../src/domain/record-view';
import { chatLine, createBatch, waitForBatch, type RequestLine } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

const ROOT = resolve(__dirname, '..');
const PYTHON = resolve(ROOT, '.venv/bin/python');
const MAX_ATTEMPTS = 3;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    {
      // Two requests per segment and one call at a time per model: a slow batch has segments
      // in running chunks and segments no chunk has reached yet.
      SEGMENT_SIZE: '2',
      MODEL_CONCURRENCY: '1',
      MAX_ATTEMPTS: String(MAX_ATTEMPTS),
      REQUEST_TIMEOUT_MS: '1000',
      RETRY_MAX_MS: '5000',
      // The cross-batch response cache, for the records answered without a call.
      RESPONSE_CACHE_TTL_S: '600',
    },
    { latencyMs: 5, retryAfterS: 1 },
  );
});
afterAll(async () => stack?.close());

const recordPath = (batchId: string, customId: string) =>
  `/batches/${batchId}/requests/${encodeURIComponent(customId)}`;

/** A record through the openai client's generic GET, checked against the shared schema. */
async function record(batchId: string, customId: string): Promise<RecordView> {
  return RecordView.parse(await stack.openai.get(recordPath(batchId, customId)));
}

async function rawGet(path: string): Promise<Response> {
  return fetch(`${stack.apiUrl}/v1${path}`);
}

/** The text of a file through files.content ('' for none). */
async function fileText(id: string | null): Promise<string> {
  return id ? (await stack.openai.files.content(id)).text() : '';
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } | null });

describe('record view', () => {
  it('lists every attempt (429 with Retry-After, 500, timeout, 409) and the line of the output or error file', async () => {
    const odd = ['constructor', '__proto__', 'a/b c%d?#', 'é✓ 名前'];
    const lines: RequestLine[] = [
      chatLine('r429', 'gpt-4o-mini', 'q #sim:429x1'),
      chatLine('r500', 'gpt-4o-mini', 'q #sim:500x1'),
      chatLine('rtimeout', 'gpt-4o-mini', 'q #sim:timeoutx1'),
      chatLine('b409', 'gpt-4o-mini', 'q #sim:409'),
      ...odd.map((id) => chatLine(id, 'gpt-4o', `plain ${id}`)),
    ];
    const created = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    const fileLines = new Map<string, { line: unknown; file: 'output' | 'error' }>();
    for (const file of ['output', 'error'] as const) {
      for (const l of jsonLines(await fileText(file === 'output' ? done.output_file_id : done.error_file_id)))
        fileLines.set(l.custom_id, { line: l, file });
    }

    const views = new Map<string, RecordView>();
    for (const l of lines) views.set(l.custom_id, await record(done.id, l.custom_id));
    for (const [id, view] of views) {
      expect(view, id).toMatchObject({
        object: 'batch.request',
        batch_id: done.id,
        custom_id: id,
        state: 'done',
      });
      // After the end, the record's line is the file's, in the file it went to.
      expect(view.result, id).toEqual(fileLines.get(id)!.line);
      expect(view.result_file, id).toBe(fileLines.get(id)!.file);
      expect(view.attempts.map((a) => a.attempt)).toEqual(view.attempts.map((_, i) => i + 1));
      for (const a of view.attempts) {
        expect(a.duration_ms, id).toBeGreaterThan(0);
        expect(Math.abs(a.started_at_ms - Date.now()), id).toBeLessThan(300_000);
      }
      for (let i = 1; i < view.attempts.length; i++)
        expect(view.attempts[i].started_at_ms).toBeGreaterThanOrEqual(
          view.attempts[i - 1].started_at_ms + view.attempts[i - 1].duration_ms,
        );
    }
    const statuses = (id: string) => views.get(id)!.attempts.map((a) => a.status_code);
    expect(statuses('r429')).toEqual([429, 200]);
    expect(views.get('r429')!.attempts.map((a) => a.retry_after_ms)).toEqual([1000, null]);
    // Retry-After honoured: the second attempt started about a second after the first was answered.
    const [first, second] = views.get('r429')!.attempts;
    expect(second.started_at_ms - (first.started_at_ms + first.duration_ms)).toBeGreaterThanOrEqual(900);
    expect(statuses('r500')).toEqual([500, 200]);
    expect(views.get('r500')!.attempts[0]).toMatchObject({ error: null, retry_after_ms: null });
    const timeout = views.get('rtimeout')!.attempts;
    expect(timeout.map((a) => a.status_code)).toEqual([null, 200]);
    expect(timeout[0].error).toMatchObject({ code: 'request_timeout' });
    expect(timeout[0].duration_ms).toBeGreaterThanOrEqual(900);
    // A policy block: one attempt, its error line.
    expect(statuses('b409')).toEqual([409]);
    expect(views.get('b409')).toMatchObject({
      result_file: 'error',
      result: { response: { status_code: 409 } },
    });
    for (const id of odd) {
      expect(statuses(id)).toEqual([200]);
      expect(views.get(id)).toMatchObject({ model: 'gpt-4o', result_file: 'output' });
    }
    expect(views.get('r429')!.model).toBe('gpt-4o-mini');
  });

  it('shows no attempt for answers made without a call: a repeat in the batch, the response cache', async () => {
    const first = await createBatch(stack.openai, [chatLine('original', 'gpt-4o-mini', 'cache me')]);
    await waitForBatch(stack.openai, first.id);
    expect((await record(first.id, 'original')).attempts).toHaveLength(1);
    const second = await createBatch(stack.openai, [
      chatLine('from-cache', 'gpt-4o-mini', 'cache me'),
      chatLine('dup-1', 'gpt-4o-mini', 'twice in one batch'),
      chatLine('dup-2', 'gpt-4o-mini', 'twice in one batch'),
    ]);
    const done = await waitForBatch(stack.openai, second.id);
    expect(done.status).toBe('completed');
    const output = new Map(jsonLines(await fileText(done.output_file_id)).map((l) => [l.custom_id, l]));
    for (const id of ['from-cache', 'dup-2']) {
      const view = await record(done.id, id);
      expect(view, id).toMatchObject({ state: 'done', attempts: [], result_file: 'output' });
      expect(view.result, id).toMatchObject({ x_governance: { cached: true, attempts: 0 } });
      expect(view.result, id).toEqual(output.get(id));
    }
    expect((await record(done.id, 'dup-1')).attempts).toHaveLength(1);
  });

  it('answers an unknown custom_id, an unknown batch and a malformed batch id with OpenAI-shaped 404s', async () => {
    const created = await createBatch(stack.openai, [chatLine('only', 'gpt-4o-mini', 'hi')]);
    await waitForBatch(stack.openai, created.id);
    for (const customId of ['nope', 'constructor', '__proto__', 'onl', 'x'.repeat(600)]) {
      const res = await rawGet(recordPath(created.id, customId));
      expect(res.status, customId).toBe(404);
      expect(((await res.json()) as { error: unknown }).error).toEqual({
        message: expect.any(String) as string,
        type: 'not_found_error',
        param: 'custom_id',
        code: 'request_not_found',
      });
    }
    const missing = await rawGet(recordPath('batch_00000000000000000000000000000000', 'only'));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
    expect((await rawGet(recordPath('not-a-batch', 'only'))).status).toBe(404);
    expect((await rawGet(`/batches/${created.id}/results?kind=both`)).status).toBe(400);
  });
});

describe('pending, in flight and partial results', () => {
  it('shows records pending and in flight while the batch runs, and streams only finished lines', async () => {
    const n = 16;
    const lines = Array.from({ length: n }, (_, i) =>
      chatLine(`s-${i}`, 'gpt-4o-mini', `slow ${i} #sim:delay=700`),
    );
    const created = await createBatch(stack.openai, lines);
    const running = await waitForBatch(stack.openai, created.id, (b) => b.request_counts.completed >= 3);
    expect(running.status).toBe('in_progress');

    // The last segment is far beyond the chunks in flight: pending, nothing journaled.
    expect(await record(created.id, `s-${n - 1}`)).toMatchObject({
      state: 'pending',
      attempts: [],
      result: null,
      result_file: null,
    });
    // Some unfinished record is in a running chunk (its heartbeat names the segment range).
    let inFlight: RecordView | null = null;
    for (let i = 0; i < n && !inFlight; i++) {
      const view = await record(created.id, `s-${i}`);
      if (view.state === 'in_flight') inFlight = view;
      else if (view.state === 'done') expect(view.result_file).toBe('output');
    }
    expect(inFlight, 'a record in flight').not.toBeNull();
    expect(inFlight!.result).toBeNull();

    // Through the openai client's generic GET, as the raw fetch Response (JSONL is not one JSON body).
    const partial = await stack.openai.get(`/batches/${created.id}/results`).asResponse();
    expect(partial.status).toBe(200);
    expect(partial.headers.get('content-type')).toMatch(/^application\/jsonl/);
    expect(partial.headers.get('x-batch-status')).toBe('in_progress');
    const finished = jsonLines(await partial.text());
    expect(finished.length).toBeGreaterThanOrEqual(3);
    expect(finished.length).toBeLessThan(n);
    expect(new Set(finished.map((l) => l.custom_id)).size).toBe(finished.length);
    for (const l of finished) expect(l.response?.status_code).toBe(200);
    // Each streamed line is the record's own final line.
    const sample = await record(created.id, finished[0].custom_id);
    expect(sample.result).toEqual(finished[0]);
    expect((await rawGet(`/batches/${created.id}/results?kind=error`)).headers.get('x-batch-status')).toBe(
      'in_progress',
    );
    expect(await (await rawGet(`/batches/${created.id}/results?kind=error`)).text()).toBe('');

    // Paused: the chunks are cancelled (in-flight calls finish), so nothing is in flight any more.
    const paused = await fetch(`${stack.apiUrl}/v1/batches/${created.id}/pause`, { method: 'POST' });
    expect(paused.status).toBe(200);
    const states = async () => {
      const all: RecordView[] = [];
      for (let i = 0; i < n; i++) all.push(await record(created.id, `s-${i}`));
      return all;
    };
    let views = await states();
    for (
      const deadline = Date.now() + 30_000;
      views.some((v) => v.state === 'in_flight');
      views = await states()
    )
      expect(Date.now(), 'records still in flight 30 s after the pause').toBeLessThan(deadline);
    const waiting = views.filter((v) => v.state !== 'done');
    expect(waiting.length).toBeGreaterThan(0);
    for (const v of waiting) expect(v).toMatchObject({ state: 'pending', result: null });

    // Cancel: the lines that never ran are written at finalize, in the error file only.
    await stack.openai.batches.cancel(created.id);
    const ended = await waitForBatch(stack.openai, created.id);
    expect(ended.status).toBe('cancelled');
    const output = await fileText(ended.output_file_id);
    const errors = await fileText(ended.error_file_id);
    expect(errors).not.toBe('');
    const all = await rawGet(`/batches/${created.id}/results`);
    expect(all.headers.get('x-batch-status')).toBe('cancelled');
    expect(await all.text()).toBe(output + errors);
    expect(await (await rawGet(`/batches/${created.id}/results?kind=output`)).text()).toBe(output);
    expect(await (await rawGet(`/batches/${created.id}/results?kind=error`)).text()).toBe(errors);
    const never = await record(created.id, `s-${n - 1}`);
    expect(never).toMatchObject({
      state: 'done',
      attempts: [],
      result_file: 'error',
      result: { error: { code: 'batch_cancelled' } },
    });
  });

  it('openai-python reads a record and the partial results', async () => {
    expect(existsSync(PYTHON), `${PYTHON} is missing: run \`npm run setup\``).toBe(true);
    const created = await createBatch(stack.openai, [
      chatLine('py-1', 'gpt-4o-mini', 'python q #sim:429x1'),
      chatLine('__proto__', 'gpt-4o-mini', 'q'),
    ]);
    const done = await waitForBatch(stack.openai, created.id);
    const script = `
import json, sys
try:
    import httpx
except ImportError:  # the openai build installed here ships its HTTP client as httpx2
    import httpx2 as httpx
from urllib.parse import quote
from openai import OpenAI
c = OpenAI(base_url=sys.argv[1], api_key="unused")
bid = sys.argv[2]
rec = c.get(f"/batches/{bid}/requests/{quote('py-1', safe='')}", cast_to=object)
proto = c.get(f"/batches/{bid}/requests/{quote('__proto__', safe='')}", cast_to=object)
raw = c.get(f"/batches/{bid}/results", cast_to=httpx.Response)
lines = [json.loads(l) for l in raw.text.splitlines() if l]
print(json.dumps({"rec": rec, "proto": proto, "status": raw.headers["x-batch-status"], "ids": sorted(l["custom_id"] for l in lines)}))
`;
    const out = await new Promise<string>((res, rej) => {
      const child = spawn(PYTHON, ['-c', script, `${stack.apiUrl}/v1`, done.id], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code) =>
        code === 0 ? res(stdout) : rej(new Error(`python exited ${code}: ${stderr}`)),
      );
    });
    const parsed = JSON.parse(out) as { rec: unknown; proto: unknown; status: string; ids: string[] };
    const rec = RecordView.parse(parsed.rec);
    expect(rec.attempts.map((a) => a.status_code)).toEqual([429, 200]);
    expect(RecordView.parse(parsed.proto)).toMatchObject({ custom_id: '__proto__', state: 'done' });
    expect(parsed.status).toBe('completed');
    expect(parsed.ids).toEqual(['__proto__', 'py-1']);
  }, 120_000);
});
