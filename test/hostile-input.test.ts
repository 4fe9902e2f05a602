// Input that must never hang, crash or stall a batch (issue 7, items 4–8), end to end: the real API,
// a real worker on the shared Temporal dev server, real storage, the gateway simulator.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { expectApiError } from './harness/api-errors';
import {
  chatLine,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type RequestLine,
  type ResultLineJson,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

const MAX_MODELS = 300;
const MAX_LINE_BYTES = 64 * 1024;
const FINALIZE_CACHE_BYTES = 256 * 1024;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    // Per-model settings exist, for another model: a lookup by `constructor` must not find one.
    MODEL_CONCURRENCY: '2',
    MODEL_CONCURRENCY_OVERRIDES: '{"gpt-4o": 3}',
    MODEL_RATE_LIMITS: '{"gpt-4o": {"rpm": 60000}}',
    MAX_MODELS_PER_BATCH: String(MAX_MODELS),
    MAX_LINE_BYTES: String(MAX_LINE_BYTES),
    MAX_JSON_DEPTH: '32',
    FINALIZE_CACHE_BYTES: String(FINALIZE_CACHE_BYTES),
    SEGMENT_SIZE: '4',
  });
});
afterAll(async () => stack?.close());

type GovernedLine = ResultLineJson & {
  error: { code: string; message: string; issues?: string[] } | null;
  x_governance: { outcome: string; cached: boolean };
};

/** POST /v1/batches with our extension parameters (the openai client's types do not know them). */
async function postBatch(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({ completion_window: '24h', endpoint: '/v1/chat/completions', ...body }),
  });
}

async function startBatch(content: string, extra: Record<string, unknown> = {}): Promise<Batch> {
  const file = await uploadJsonl(stack.openai, content);
  const res = await postBatch({ input_file_id: file.id, ...extra });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Batch;
}

async function resultLines(batch: Batch): Promise<GovernedLine[]> {
  const out = await readResultFile(stack.openai, batch.output_file_id);
  const err = await readResultFile(stack.openai, batch.error_file_id);
  return [...out, ...err] as GovernedLine[];
}

/** Every custom_id of `lines` appears exactly once among the results. */
function expectEachOnce(results: GovernedLine[], lines: RequestLine[]): void {
  expect(results.map((l) => l.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
}

const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'];

describe('models and custom_ids named like Object.prototype members (item 4)', () => {
  const lines = (marker = ''): RequestLine[] => [
    ...PROTO_NAMES.map((name) => chatLine(name, name, `named ${name} ${marker}`)),
    ...PROTO_NAMES.flatMap((model) =>
      Array.from({ length: 3 }, (_, i) => chatLine(`${model}-${i}`, model, `line ${i} ${marker}`)),
    ),
    chatLine('plain', 'gpt-4o', `the configured model ${marker}`),
  ];

  it('completes with every line in the output exactly once', async () => {
    const input = lines();
    const created = await startBatch(toJsonl(input));
    const batch = await waitForBatch(stack.openai, created.id, undefined, 60_000);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: input.length, completed: input.length, failed: 0 });
    const results = await resultLines(batch);
    expectEachOnce(results, input);
    for (const line of results) {
      expect(line.response?.status_code).toBe(200);
      const model = input.find((l) => l.custom_id === line.custom_id)!.body.model;
      expect(line.response?.body.model).toBe(model);
    }
    // The simulator lists the models as own keys too (`__proto__` included).
    expect(Object.keys(stack.sim.stats().byModel)).toEqual(expect.arrayContaining(PROTO_NAMES));
  });

  it('can be cancelled, and ends cancelled with every line accounted for once', async () => {
    // Two requests per model at a time, 1.5 s each: the batch runs for seconds, the cancel lands in it.
    const input = lines('#sim:delay=1500');
    const created = await startBatch(toJsonl(input));
    await waitForBatch(stack.openai, created.id, (b) => b.status === 'in_progress');
    await stack.openai.batches.cancel(created.id);
    const batch = await waitForBatch(stack.openai, created.id, undefined, 60_000);
    expect(batch.status).toBe('cancelled');
    const results = await resultLines(batch);
    expectEachOnce(results, input);
    expect(results.filter((l) => l.error?.code === 'batch_cancelled').length).toBeGreaterThan(0);
  });
});

describe('many distinct models (item 5)', () => {
  it(`fails a file with more than ${MAX_MODELS} models with too_many_models at the first model beyond`, async () => {
    const input = [
      ...Array.from({ length: MAX_MODELS }, (_, i) => chatLine(`a-${i}`, `model-${i}`, 'hi')),
      chatLine('again', 'model-7', 'a known model is fine'),
      chatLine('beyond', 'model-extra', 'one model too many'),
      chatLine('beyond-2', 'model-extra-2', 'reported once'),
    ];
    const created = await startBatch(toJsonl(input));
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('failed');
    expect(batch.errors?.data).toEqual([
      {
        code: 'too_many_models',
        message: `Line ${MAX_MODELS + 2}: model 'model-extra' is beyond the maximum of ${MAX_MODELS} distinct models per batch.`,
        param: 'body.model',
        line: MAX_MODELS + 2,
      },
    ]);
  });

  it(`completes a file of ${MAX_MODELS} models (a few lines each)`, async () => {
    const input = Array.from({ length: MAX_MODELS * 2 }, (_, i) =>
      chatLine(`m-${i}`, `model-${i % MAX_MODELS}`, `line ${i}`),
    );
    const started = Date.now();
    const created = await startBatch(toJsonl(input));
    // One child workflow per model, eight at a time: the workflow's fan-out sets the pace here.
    const batch = await waitForBatch(stack.openai, created.id, undefined, 200_000);
    expect(batch.status).toBe('completed');
    expect(batch.request_counts).toEqual({ total: input.length, completed: input.length, failed: 0 });
    expectEachOnce(await resultLines(batch), input);
    // The reason for MAX_MODELS_PER_BATCH: the parent's history grows with every model.
    const { historyLength } = await stack.client.workflow.getHandle(created.id).describe();
    expect(historyLength).toBeLessThan(10_240); // Temporal warns from here on (and fails at 51,200)
    console.log(
      `${MAX_MODELS} models, ${input.length} lines: ${Date.now() - started} ms, parent history ${historyLength} events`,
    );
  }, 240_000);
});

describe('per-line limits (item 6)', () => {
  it('reports an oversized line and a too-deep line by number, with messages that quote user strings short', async () => {
    // Long, but within MAX_CUSTOM_ID_LENGTH (512): its duplicate is reported with the id clipped.
    const longId = 'dup-' + 'x'.repeat(500);
    // Deep but within the line size limit (deeper lines are too large first; 1e6 deep: unit tests).
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    const content = [
      JSON.stringify(chatLine('ok-1', 'gpt-4o', 'fine')),
      JSON.stringify(chatLine('big', 'gpt-4o', 'x'.repeat(MAX_LINE_BYTES))),
      `{"custom_id":"deep","method":"POST","url":"/v1/chat/completions","body":{"model":"m","x":${deep}}}`,
      JSON.stringify(chatLine(longId, 'gpt-4o', 'first')),
      JSON.stringify(chatLine(longId, 'gpt-4o', 'second')),
      JSON.stringify({ ...chatLine('bad-url', 'gpt-4o', 'x'), url: '/v1/' + 'u'.repeat(5000) }),
      '['.repeat(60_000),
      JSON.stringify(chatLine('id-' + 'y'.repeat(5000), 'gpt-4o', 'too long an id')),
    ].join('\n');
    const created = await startBatch(content);
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('failed');
    const errors = batch.errors!.data;
    expect(errors.map((e) => [e.code, e.line])).toEqual([
      ['line_too_large', 2],
      ['json_too_deep', 3],
      ['duplicate_custom_id', 5],
      ['invalid_url', 6],
      ['json_too_deep', 7],
      ['invalid_request', 8],
    ]);
    expect(errors[0].message).toBe(`Line 2 is larger than the maximum of ${MAX_LINE_BYTES} bytes per line.`);
    for (const e of errors) expect(e.message.length).toBeLessThan(200);
  });
});

describe('output schemas with catastrophic patterns (item 7)', () => {
  // `{"echo": "aaa…ab"}` against ^(a+)+$: a backtracking RegExp needs ~2^60 steps per answer.
  const SCHEMA = {
    type: 'object',
    properties: { echo: { type: 'string', pattern: '^(a+)+$' } },
    required: ['echo'],
  };
  const jsonLine = (id: string, text: string, responseFormat: unknown = { type: 'json_object' }) => {
    const line = chatLine(id, 'gpt-4o-mini', text);
    line.body.response_format = responseFormat;
    return line;
  };

  it('checks answers against ^(a+)+$ in linear time: the batch finishes and the event loop never stalls', async () => {
    const input = [
      ...Array.from({ length: 20 }, (_, i) => jsonLine(`evil-${i}`, 'a'.repeat(60 + i) + 'b')),
      ...Array.from({ length: 5 }, (_, i) => jsonLine(`good-${i}`, 'a'.repeat(60 + i))),
    ];
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();
    const started = Date.now();
    const created = await startBatch(toJsonl(input), { x_output_schema: SCHEMA });
    const batch = await waitForBatch(stack.openai, created.id, undefined, 60_000);
    lag.disable();
    expect(batch.status).toBe('completed');
    // The worker runs in this process: a backtracking check would have blocked this very loop.
    expect(lag.max / 1e6).toBeLessThan(2_000);
    expect(Date.now() - started).toBeLessThan(60_000);
    const results = await resultLines(batch);
    expectEachOnce(results, input);
    for (const line of results) {
      if (line.custom_id.startsWith('evil')) {
        expect(line.error?.code).toBe('schema_validation_failed');
        expect(line.error?.issues).toEqual(['content/echo must match pattern "^(a+)+$"']);
      } else expect(line.error).toBeNull();
    }
    console.log(
      `catastrophic pattern batch: ${Date.now() - started} ms, max event loop delay ${Math.round(lag.max / 1e6)} ms`,
    );
  });

  it('rejects at create an x_output_schema whose pattern RE2 cannot run, saying why', async () => {
    const file = await uploadJsonl(stack.openai, toJsonl([chatLine('a', 'gpt-4o-mini', 'hi')]));
    const error = await expectApiError(
      await postBatch({ input_file_id: file.id, x_output_schema: { type: 'string', pattern: '(a)\\1' } }),
      400,
    );
    expect(error.param).toBe('x_output_schema');
    expect(error.message).toMatch(/cannot be checked in linear time/);
  });

  it('fails a line whose own json_schema cannot be checked with schema_unsupported, the others run', async () => {
    const unsupported = {
      type: 'json_schema',
      json_schema: { name: 'e', schema: { type: 'object', properties: { echo: { pattern: '^(?=a)a+$' } } } },
    };
    const input = [jsonLine('lookahead', 'aaa', unsupported), jsonLine('plain', 'aaa')];
    const created = await startBatch(toJsonl(input));
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    const results = await resultLines(batch);
    const bad = results.find((l) => l.custom_id === 'lookahead')!;
    expect(bad.error?.code).toBe('schema_unsupported');
    expect(bad.error?.issues?.[0]).toMatch(
      /^the request's schema cannot be checked: pattern '\^\(\?=a\)a\+\$'/,
    );
    expect(results.find((l) => l.custom_id === 'plain')!.error).toBeNull();
  });
});

describe('finalize with large response bodies (item 8)', () => {
  it(`fans ~300 KB answers out across segments with a ${FINALIZE_CACHE_BYTES / 1024} KiB cache, every line once`, async () => {
    // Three distinct bodies, each repeated four times, one repeat per segment of four: the repeats
    // are answered at finalize from earlier segments, which no longer fit the cache.
    const PAD = 300_000;
    const input = Array.from({ length: 12 }, (_, i) =>
      chatLine(`big-${i}`, 'gpt-4o-mini', `body ${i % 3} #sim:pad=${PAD}`),
    );
    const before = stack.sim.stats().calls;
    const created = await startBatch(toJsonl(input));
    const batch = await waitForBatch(stack.openai, created.id, undefined, 60_000);
    expect(batch.status).toBe('completed');
    expect(stack.sim.stats().calls - before).toBe(3);
    const results = await resultLines(batch);
    expectEachOnce(results, input);
    for (const line of results) {
      const content: string = line.response?.body.choices[0].message.content;
      expect(content.length).toBeGreaterThan(PAD);
      const i = Number(line.custom_id.slice(4));
      expect(content.startsWith(`echo: body ${i % 3} `)).toBe(true);
    }
    expect(results.filter((l) => l.x_governance.cached)).toHaveLength(9);
  });
});
