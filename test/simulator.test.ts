import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import OpenAI from 'openai';
import { simulatorConfigFromEnv } from '../src/simulator/config';
import { startSimulator, type Simulator } from '../src/simulator/server';

let sim: Simulator;

// Answers are probed field by field; a loose type keeps the assertions readable.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

interface Answer {
  status: number;
  headers: Headers;
  body: Loose;
}

async function call(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  init: { signal?: AbortSignal } = {},
): Promise<Answer> {
  const res = await fetch(sim.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: init.signal,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

async function get(path: string): Promise<Loose> {
  const res = await fetch(sim.url + path);
  expect(res.status).toBe(200);
  return res.json();
}

const chat = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content },
  ],
  ...extra,
});

const rec = (batch: string, record: string) => ({ 'x-batch-id': batch, 'x-record-id': record });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  sim = await startSimulator({ port: 0, latencyMs: 5, timeoutMs: 300, retryAfterS: 1 });
});

afterAll(async () => {
  await sim?.close();
});

describe('config', () => {
  it('reads SIM_* env vars with defaults', () => {
    const d = simulatorConfigFromEnv({});
    expect(d).toMatchObject({
      port: 8090,
      host: '127.0.0.1',
      latencyMs: 20,
      jitterMs: 0,
      faultRate409: 0,
      faultRate429: 0,
      faultRate500: 0,
      faultRateTimeout: 0,
      retryAfterS: 1,
      timeoutMs: 30_000,
    });
    expect(d.requiredApiKey).toBeUndefined();
    const c = simulatorConfigFromEnv({
      SIM_PORT: '0',
      SIM_LATENCY_MS: '3',
      SIM_FAULT_RATE_429: '0.25',
      SIM_REQUIRED_API_KEY: 'k',
      SIM_TIMEOUT_MS: '',
    });
    expect(c).toMatchObject({
      port: 0,
      latencyMs: 3,
      faultRate429: 0.25,
      requiredApiKey: 'k',
      timeoutMs: 30_000,
    });
    expect(() => simulatorConfigFromEnv({ SIM_FAULT_RATE_500: '2' })).toThrow();
    expect(() => simulatorConfigFromEnv({ SIM_LATENCY_MS: 'soon' })).toThrow();
  });
});

describe('OpenAI-compatible endpoints', () => {
  it('chat completions echo the last user message', async () => {
    const r = await call('/v1/chat/completions', chat('hello simulator'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]+$/);
    expect(r.body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'echo: hello simulator' }, finish_reason: 'stop' },
      ],
      usage: {
        prompt_tokens_details: { cached_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0 },
      },
    });
    expect(typeof r.body.id).toBe('string');
    expect(typeof r.body.created).toBe('number');
    const u = r.body.usage;
    expect(u.prompt_tokens).toBeGreaterThan(0);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);

    const long = 'x'.repeat(500);
    const l = await call('/v1/chat/completions', chat(long));
    expect(l.body.choices[0].message.content).toBe('echo: ' + 'x'.repeat(200));
  });

  it('request ids are distinct', async () => {
    const a = await call('/v1/chat/completions', chat('a'));
    const b = await call('/v1/chat/completions', chat('b'));
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
  });

  it('JSON response formats return JSON content, #sim:badjson breaks it', async () => {
    const schema = { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } };
    const ok = await call('/v1/chat/completions', chat('give json', { response_format: schema }));
    expect(JSON.parse(ok.body.choices[0].message.content)).toEqual({ echo: 'give json' });
    const obj = await call('/v1/chat/completions', chat('obj', { response_format: { type: 'json_object' } }));
    expect(JSON.parse(obj.body.choices[0].message.content)).toEqual({ echo: 'obj' });
    const bad = await call('/v1/chat/completions', chat('please #sim:badjson', { response_format: schema }));
    expect(bad.status).toBe(200);
    expect(() => JSON.parse(bad.body.choices[0].message.content)).toThrow();
  });

  it('text completions', async () => {
    const r = await call('/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'once upon' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      object: 'text_completion',
      model: 'gpt-3.5-turbo-instruct',
      choices: [{ index: 0, text: 'echo: once upon', finish_reason: 'stop' }],
    });
    expect(r.body.usage.total_tokens).toBe(r.body.usage.prompt_tokens + r.body.usage.completion_tokens);
  });

  it('embeddings: one deterministic vector per input', async () => {
    const one = await call('/v1/embeddings', { model: 'text-embedding-3-small', input: 'alpha' });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ object: 'list', model: 'text-embedding-3-small' });
    expect(one.body.data).toHaveLength(1);
    expect(one.body.data[0]).toMatchObject({ object: 'embedding', index: 0 });
    expect(one.body.data[0].embedding).toHaveLength(8);
    expect(one.body.usage.prompt_tokens).toBe(one.body.usage.total_tokens);

    const many = await call('/v1/embeddings', { model: 'text-embedding-3-small', input: ['alpha', 'beta'] });
    expect(many.body.data.map((d: Loose) => d.index)).toEqual([0, 1]);
    expect(many.body.data[0].embedding).toEqual(one.body.data[0].embedding);
    expect(many.body.data[1].embedding).not.toEqual(one.body.data[0].embedding);

    const dims = await call('/v1/embeddings', {
      model: 'text-embedding-3-small',
      input: 'alpha',
      dimensions: 16,
    });
    expect(dims.body.data[0].embedding).toHaveLength(16);
  });

  it('responses API', async () => {
    const r = await call('/v1/responses', { model: 'gpt-4o', input: 'tell me' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      object: 'response',
      status: 'completed',
      model: 'gpt-4o',
      output: [
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'echo: tell me' }] },
      ],
      usage: { input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } },
    });
    const items = await call('/v1/responses', {
      model: 'gpt-4o',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'from parts' }] }],
    });
    expect(items.body.output[0].content[0].text).toBe('echo: from parts');
  });

  it('moderations', async () => {
    const r = await call('/v1/moderations', { input: ['fine', 'bad #sim:flag'] });
    expect(r.status).toBe(200);
    expect(r.body.model).toBe('omni-moderation-latest');
    expect(r.body.results).toHaveLength(2);
    expect(r.body.results[0].flagged).toBe(false);
    expect(r.body.results[1].flagged).toBe(true);
    expect(r.body.results[1].categories.violence).toBe(true);
  });

  it('models list', async () => {
    const list = await get('/v1/models');
    expect(list.object).toBe('list');
    const ids = list.data.map((m: Loose) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small']));
    expect(list.data[0]).toMatchObject({ object: 'model' });
  });

  it('invalid JSON, missing body and missing model are OpenAI-shaped 400s', async () => {
    const bad = await call('/v1/chat/completions', '{not json');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ type: 'invalid_request_error' });
    expect(bad.body.error).toHaveProperty('param');
    expect(bad.body.error).toHaveProperty('code');

    const empty = await fetch(sim.url + '/v1/chat/completions', { method: 'POST' });
    expect(empty.status).toBe(400);

    const noModel = await call('/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }] });
    expect(noModel.status).toBe(400);
    expect(noModel.body.error).toMatchObject({ type: 'invalid_request_error', param: 'model' });
  });

  it('unknown routes are OpenAI-shaped 404s', async () => {
    const r = await call('/v1/nothing', {});
    expect(r.status).toBe(404);
    expect(r.body.error.type).toBe('invalid_request_error');
  });

  it('the official openai client parses every answer', async () => {
    const client = new OpenAI({ baseURL: sim.url + '/v1', apiKey: 'sk-test', maxRetries: 0 });
    const c = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'via sdk' }],
    });
    expect(c.choices[0].message.content).toBe('echo: via sdk');
    const e = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'via sdk' });
    expect(e.data[0].embedding).toHaveLength(8);
    const direct = await call('/v1/embeddings', { model: 'text-embedding-3-small', input: 'via sdk' });
    // The SDK asks for base64 by default; decoded floats must match the float answer.
    expect(e.data[0].embedding).toEqual(direct.body.data[0].embedding);
    const r = await client.responses.create({ model: 'gpt-4o', input: 'via sdk' });
    expect(r.output_text).toBe('echo: via sdk');
    const m = await client.moderations.create({ input: 'via sdk' });
    expect(m.results[0].flagged).toBe(false);
    const models = await client.models.list();
    expect(models.data.length).toBeGreaterThan(2);
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: '#sim:409' }],
      }),
    ).rejects.toMatchObject({ status: 409 });
  });
});

describe('scripted faults', () => {
  it('#sim:409 is always a policy block and is counted per record', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await call('/v1/chat/completions', chat('forbidden #sim:409'), rec('b409', 'r1'));
      expect(r.status).toBe(409);
      expect(r.body.error).toMatchObject({
        type: 'policy_violation',
        code: 'policy_blocked',
        policy: 'content_safety',
      });
      expect(r.body.error.message).toMatch(/^Request blocked by policy/);
    }
    await call('/v1/chat/completions', chat('fine'), rec('b409', 'r2'));
    expect(await get('/_sim/records/b409/r1')).toEqual({ calls: 3 });
    expect(await get('/_sim/records?batch=b409')).toEqual({ r1: 3, r2: 1 });
    const b = await get('/_sim/batches/b409');
    expect(b).toMatchObject({
      calls: 4,
      records: 2,
      retriedRecords: 1,
      maxCallsPerRecord: 3,
      missingRecordId: 0,
    });
    expect(b.byStatus).toEqual({ '409': 3, '200': 1 });
  });

  it('#sim:429x2 fails twice with Retry-After, then succeeds', async () => {
    const body = chat('busy #sim:429x2');
    const a = await call('/v1/chat/completions', body, rec('b429', 'r1'));
    const b = await call('/v1/chat/completions', body, rec('b429', 'r1'));
    const c = await call('/v1/chat/completions', body, rec('b429', 'r1'));
    expect([a.status, b.status, c.status]).toEqual([429, 429, 200]);
    expect(a.headers.get('retry-after')).toBe('1');
    expect(b.headers.get('retry-after')).toBe('1');
    expect(a.body.error.type).toBe('rate_limit_error');
    // Attempts are per record: another record with the same body starts over.
    const other = await call('/v1/chat/completions', body, rec('b429', 'r2'));
    expect(other.status).toBe(429);
  });

  it('transient markers compose in order; status markers map to OpenAI error types', async () => {
    const body = chat('#sim:500x1 #sim:503x1');
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await call('/v1/chat/completions', body, rec('bseq', 'r1'))).status);
    expect(statuses).toEqual([500, 503, 200]);

    const cases: Array<[string, number, string]> = [
      ['#sim:400', 400, 'invalid_request_error'],
      ['#sim:401', 401, 'invalid_request_error'],
      ['#sim:403', 403, 'permission_error'],
      ['#sim:422', 422, 'invalid_request_error'],
      ['#sim:500', 500, 'server_error'],
      ['#sim:502', 502, 'server_error'],
      ['#sim:503', 503, 'server_error'],
    ];
    for (const [marker, status, type] of cases) {
      const r = await call('/v1/chat/completions', chat(marker), rec('bcodes', marker));
      expect(r.status).toBe(status);
      expect(r.body.error.type).toBe(type);
    }
  });

  it('#sim:timeout hangs for timeoutMs, then answers 504', async () => {
    const t0 = Date.now();
    const r = await call('/v1/chat/completions', chat('#sim:timeout'), rec('btimeout', 'r1'));
    expect(r.status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);

    const again = await call('/v1/chat/completions', chat('#sim:timeoutx1'), rec('btimeout', 'r2'));
    expect(again.status).toBe(504);
    const ok = await call('/v1/chat/completions', chat('#sim:timeoutx1'), rec('btimeout', 'r2'));
    expect(ok.status).toBe(200);
  });

  it('a client that gives up on a hanging call leaves no in-flight call behind', async () => {
    sim.configure({ timeoutMs: 60_000 });
    try {
      sim.reset();
      const pending = Array.from({ length: 5 }, (_, i) =>
        call('/v1/chat/completions', chat('#sim:timeout'), rec('babort', `r${i}`), {
          signal: AbortSignal.timeout(100),
        }).then(
          () => 'answered',
          () => 'aborted',
        ),
      );
      expect(await Promise.all(pending)).toEqual(Array(5).fill('aborted'));
      for (let i = 0; i < 50 && sim.stats().inFlight > 0; i++) await sleep(10);
      const s = await get('/_sim/stats');
      expect(s.inFlight).toBe(0);
      expect(s.maxInFlight).toBe(5);
      expect(s.byStatus.aborted).toBe(5);
    } finally {
      sim.configure({ timeoutMs: 300 });
    }
  });

  it('#sim:reset drops the connection; #sim:resetx1 only the first attempt', async () => {
    await expect(call('/v1/chat/completions', chat('#sim:reset'), rec('breset', 'r1'))).rejects.toThrow();
    await expect(call('/v1/chat/completions', chat('#sim:resetx1'), rec('breset', 'r2'))).rejects.toThrow();
    const ok = await call('/v1/chat/completions', chat('#sim:resetx1'), rec('breset', 'r2'));
    expect(ok.status).toBe(200);
    const b = sim.batch('breset');
    expect(b.byStatus).toEqual({ reset: 2, '200': 1 });
    expect(b.inFlight).toBe(0);
  });

  it('#sim:delay=N overrides the latency', async () => {
    const t0 = Date.now();
    const r = await call('/v1/chat/completions', chat('slow #sim:delay=200'));
    expect(r.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});

describe('counters', () => {
  it('maxInFlight equals the number of concurrent calls', async () => {
    sim.configure({ latencyMs: 100 });
    try {
      const reset = await fetch(sim.url + '/_sim/reset', { method: 'POST' });
      expect(reset.status).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          call('/v1/chat/completions', chat(`c${i}`), rec('bconc', `r${i}`)),
        ),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const s = await get('/_sim/stats');
      expect(s).toMatchObject({ totalCalls: 10, inFlight: 0, maxInFlight: 10, byStatus: { '200': 10 } });
      expect(s.byModel['gpt-4o-mini']).toEqual({ calls: 10, inFlight: 0, maxInFlight: 10 });
      expect(await get('/_sim/batches/bconc')).toMatchObject({ calls: 10, inFlight: 0, maxInFlight: 10 });
    } finally {
      sim.configure({ latencyMs: 5 });
    }
  });

  it('reset zeroes everything', async () => {
    await fetch(sim.url + '/_sim/reset', { method: 'POST' });
    const before = Date.now();
    await call('/v1/chat/completions', chat('x'), rec('bz', 'r1'));
    const called = await get('/_sim/stats');
    expect(called.firstCallAtMs).toBeGreaterThanOrEqual(before);
    expect(called.lastFinishedAtMs).toBeGreaterThanOrEqual(called.firstCallAtMs);
    await fetch(sim.url + '/_sim/reset', { method: 'POST' });
    const s = await get('/_sim/stats');
    expect(s).toMatchObject({
      totalCalls: 0,
      inFlight: 0,
      maxInFlight: 0,
      byStatus: {},
      byModel: {},
      batches: 0,
      firstCallAtMs: null,
      lastFinishedAtMs: null,
    });
    expect(await get('/_sim/records?batch=bz')).toEqual({});
    expect(await get('/_sim/records/bz/r1')).toEqual({ calls: 0 });
  });

  it('tracks missing record ids and the last headers without credentials', async () => {
    await call('/v1/chat/completions', chat('h1'), {
      'x-batch-id': 'bh',
      authorization: 'Bearer secret',
      'x-trace': 't1',
    });
    await call('/v1/chat/completions', chat('h2'), {
      'x-batch-id': 'bh',
      'x-record-id': 'r9',
      'x-trace': 't2',
    });
    const b = await get('/_sim/batches/bh');
    expect(b).toMatchObject({ calls: 2, missingRecordId: 1, missingAuthorization: 1 });
    expect(b.lastHeaders['x-trace']).toBe('t2');
    expect(b.lastHeaders['x-record-id']).toBe('r9');
    expect(b.lastHeaders).not.toHaveProperty('authorization');
    // Calls without any ids still get a stable record key (a hash of the body), so transient markers work.
    const first = await call('/v1/chat/completions', chat('anon #sim:429x1'));
    const second = await call('/v1/chat/completions', chat('anon #sim:429x1'));
    expect([first.status, second.status]).toEqual([429, 200]);
    const all = await get('/_sim/batches');
    expect(all['-'].missingRecordId).toBeGreaterThanOrEqual(2);
  });

  it('rate-based faults are deterministic across resets, and a retry can succeed', async () => {
    sim.configure({ faultRate429: 0.3, faultRate500: 0.2 });
    const run = async (): Promise<number[]> => {
      const out: number[] = [];
      await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          out[i] = (await call('/v1/chat/completions', chat(`rate ${i}`), rec('brate', `r${i}`))).status;
        }),
      );
      return out;
    };
    try {
      sim.reset();
      const first = await run();
      const retry = await run();
      sim.reset();
      const again = await run();
      const retryAgain = await run();
      expect(again).toEqual(first);
      expect(retryAgain).toEqual(retry);
      expect(first.filter((s) => s === 429).length).toBeGreaterThan(5);
      expect(first.filter((s) => s === 500).length).toBeGreaterThan(3);
      expect(first.filter((s) => s === 200).length).toBeGreaterThan(15);
      // The draw depends on the attempt number, so some faulted records succeed on their second attempt.
      expect(first.some((s, i) => s !== 200 && retry[i] === 200)).toBe(true);
    } finally {
      sim.configure({ faultRate429: 0, faultRate500: 0 });
    }
  });

  it('a required API key turns other tokens into 401, over configure() and /_sim/config', async () => {
    const cfg = await fetch(sim.url + '/_sim/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ requiredApiKey: 'sk-right' }),
    });
    expect(cfg.status).toBe(200);
    expect(await cfg.json()).toMatchObject({ requiredApiKeySet: true });
    try {
      const none = await call('/v1/chat/completions', chat('k'));
      expect(none.status).toBe(401);
      const wrong = await call('/v1/chat/completions', chat('k'), { authorization: 'Bearer sk-wrong' });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toMatchObject({ code: 'invalid_api_key' });
      const right = await call('/v1/chat/completions', chat('k'), { authorization: 'Bearer sk-right' });
      expect(right.status).toBe(200);
    } finally {
      sim.configure({ requiredApiKey: null });
    }
    expect((await call('/v1/chat/completions', chat('k'))).status).toBe(200);
  });

  it('rejects invalid runtime config', async () => {
    const bad = await fetch(sim.url + '/_sim/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ faultRate429: 3 }),
    });
    expect(bad.status).toBe(400);
    const typo = await fetch(sim.url + '/_sim/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latency: 3 }),
    });
    expect(typo.status).toBe(400);
    expect(() => sim.configure({ jitterMs: -1 })).toThrow();
    expect(sim.settings().latencyMs).toBe(5);
  });
});

describe('serving capacity (servingSlots)', () => {
  const serving = async () => (await get('/_sim/stats')).serving;

  it('is off by default and read from SIM_SERVING_SLOTS and SIM_LATENCY_PER_IN_FLIGHT_MS', async () => {
    expect(simulatorConfigFromEnv({})).toMatchObject({ servingSlots: 0, latencyPerInFlightMs: 0 });
    expect(
      simulatorConfigFromEnv({ SIM_SERVING_SLOTS: '64', SIM_LATENCY_PER_IN_FLIGHT_MS: '2' }),
    ).toMatchObject({ servingSlots: 64, latencyPerInFlightMs: 2 });
    expect(() => simulatorConfigFromEnv({ SIM_SERVING_SLOTS: '1.5' })).toThrow();
    const a = await call('/v1/chat/completions', chat('off'), rec('bserve0', 'r1'));
    expect(a.headers.get('x-sim-queued-ms')).toBeNull();
    expect(await serving()).toMatchObject({ slots: 0, inService: 0, queued: 0 });
  });

  it('serves at most servingSlots calls at once; the rest wait, and every call is answered', async () => {
    const latencyMs = 60;
    const res = await fetch(sim.url + '/_sim/config', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ servingSlots: 3, latencyMs }),
    });
    expect(await res.json()).toMatchObject({ servingSlots: 3, latencyPerInFlightMs: 0 });
    try {
      sim.reset();
      const t0 = performance.now();
      const answers = await Promise.all(
        Array.from({ length: 9 }, (_, i) =>
          call('/v1/chat/completions', chat(`s${i}`), rec('bserve', `r${i}`)),
        ),
      );
      const elapsed = performance.now() - t0;
      expect(answers.map((a) => a.status)).toEqual(Array(9).fill(200));
      // Nine calls through three slots take at least three service times, however fast they arrive.
      expect(elapsed).toBeGreaterThanOrEqual(3 * latencyMs - 5);
      const s = await serving();
      expect(s.maxInService).toBeLessThanOrEqual(3);
      expect(s).toMatchObject({ slots: 3, inService: 0, queued: 0, served: 9 });
      expect(s.byModel['gpt-4o-mini']).toMatchObject({ served: 9 });
      // The headers say how long each call waited; the counters add the same waits up.
      const waits = answers.map((a) => Number(a.headers.get('x-sim-queued-ms')));
      expect(waits.every((w) => Number.isFinite(w) && w >= 0)).toBe(true);
      expect(s.queueMsTotal).toBe(waits.reduce((x, y) => x + y, 0));
      expect(s.queueMsMax).toBe(Math.max(...waits));
      // A call can be queued and served within the same millisecond: it waited, for 0 ms.
      expect(s.waited).toBeGreaterThanOrEqual(waits.filter((w) => w > 0).length);
      expect(s.waited).toBeLessThanOrEqual(9);
    } finally {
      sim.configure({ servingSlots: 0, latencyMs: 5 });
    }
  });

  it('latencyPerInFlightMs lengthens a call by the calls served beside it', async () => {
    sim.configure({ servingSlots: 4, latencyMs: 10, latencyPerInFlightMs: 40 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 4 }, async (_, i) => {
          const t0 = performance.now();
          const a = await call('/v1/chat/completions', chat(`p${i}`), rec('bper', `r${i}`));
          return { a, ms: performance.now() - t0 };
        }),
      );
      for (const { a, ms } of answers) {
        expect(a.status).toBe(200);
        const beside = Number(a.headers.get('x-sim-served-beside'));
        expect(beside).toBeGreaterThanOrEqual(0);
        expect(beside).toBeLessThanOrEqual(3);
        expect(ms).toBeGreaterThanOrEqual(10 + 40 * beside - 5);
      }
    } finally {
      sim.configure({ servingSlots: 0, latencyMs: 5, latencyPerInFlightMs: 0 });
    }
  });

  it('a client that gives up while queued leaves the queue; faults and 400s take no slot', async () => {
    sim.configure({ servingSlots: 1, latencyMs: 300 });
    try {
      sim.reset();
      const first = call('/v1/chat/completions', chat('holder'), rec('bq', 'r1'));
      const ac = new AbortController();
      const quitter = call('/v1/chat/completions', chat('quitter'), rec('bq', 'r2'), { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await expect(quitter).rejects.toThrow();
      // A scripted fault and a bad request are answered by the gateway, not by the model.
      const [fault, bad] = await Promise.all([
        call('/v1/chat/completions', chat('#sim:500'), rec('bq', 'r3')),
        call('/v1/chat/completions', { model: 'gpt-4o-mini' }, rec('bq', 'r4')),
      ]);
      expect([fault.status, bad.status]).toEqual([500, 400]);
      expect(fault.headers.get('x-sim-queued-ms')).toBeNull();
      expect((await first).status).toBe(200);
      await sleep(20);
      const s = await serving();
      expect(s).toMatchObject({ inService: 0, queued: 0 });
      // Only the holder was served: the quitter never got the slot, the fault and the 400 never asked.
      expect(s.served).toBe(1);
      // The next call finds the slot free.
      const next = await call('/v1/chat/completions', chat('next'), rec('bq', 'r5'));
      expect(next.headers.get('x-sim-queued-ms')).toBe('0');
    } finally {
      sim.configure({ servingSlots: 0, latencyMs: 5 });
    }
  });
});
