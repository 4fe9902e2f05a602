import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import type { QualityScore } from '../src/records/outcome';
import { expectApiError } from './harness/api-errors';
import {
  chatLine,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type RequestLine,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ MODEL_CONCURRENCY: '8', GLOBAL_CONCURRENCY: '12' }, { latencyMs: 5 });
});
afterAll(async () => stack?.close());

interface GovernedLine {
  custom_id: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- upstream bodies are free-form JSON
  response: { status_code: number; body: any } | null;
  error: { code: string; message: string; issues?: string[] } | null;
  x_governance: { outcome: string; quality?: QualityScore };
}

/** POST /v1/batches with our extension parameters (the openai client's types do not know them). */
async function postBatch(body: Record<string, unknown>): Promise<Response> {
  return fetch(`${stack.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key' },
    body: JSON.stringify({ completion_window: '24h', endpoint: '/v1/chat/completions', ...body }),
  });
}

async function runBatch(
  lines: RequestLine[],
  extra: Record<string, unknown> = {},
): Promise<{ batch: Batch; lines: GovernedLine[] }> {
  const file = await uploadJsonl(stack.openai, toJsonl(lines));
  const res = await postBatch({ input_file_id: file.id, ...extra });
  expect(res.status, await res.clone().text()).toBe(200);
  const created = (await res.json()) as Batch;
  const batch = await waitForBatch(stack.openai, created.id);
  expect(batch.status).toBe('completed');
  const out = await readResultFile(stack.openai, batch.output_file_id);
  const err = await readResultFile(stack.openai, batch.error_file_id);
  return { batch, lines: [...out, ...err] as unknown as GovernedLine[] };
}

const jsonChat = (id: string, text: string, responseFormat: unknown = { type: 'json_object' }) => {
  const line = chatLine(id, 'gpt-4o-mini', text);
  line.body.response_format = responseFormat;
  return line;
};

const ECHO_SCHEMA = {
  type: 'object',
  properties: { echo: { type: 'string', pattern: '^item' } },
  required: ['echo'],
  additionalProperties: false,
};

describe('output schema validation (x_output_schema)', () => {
  it('sends lines whose content is not JSON or misses the schema to the error file with issues', async () => {
    const lines = Array.from({ length: 30 }, (_, i) =>
      jsonChat(`req-${i}`, i % 5 === 0 ? `item ${i} #sim:badjson` : i % 7 === 3 ? `other ${i}` : `item ${i}`),
    );
    const { batch, lines: results } = await runBatch(lines, { x_output_schema: ECHO_SCHEMA });
    const badJson = lines.filter((_, i) => i % 5 === 0).map((l) => l.custom_id);
    const offSchema = lines.filter((_, i) => i % 5 !== 0 && i % 7 === 3).map((l) => l.custom_id);
    const failed = new Set([...badJson, ...offSchema]);
    expect(batch.request_counts).toEqual({ total: 30, completed: 30 - failed.size, failed: failed.size });
    expect(batch.x_governance.errored).toBe(failed.size);
    expect(results).toHaveLength(30);

    for (const line of results) {
      // The raw answer is kept on every line, failed or not.
      expect(line.response?.status_code).toBe(200);
      const content = line.response!.body.choices[0].message.content as string;
      if (!failed.has(line.custom_id)) {
        expect(line.error).toBeNull();
        expect(line.x_governance.outcome).toBe('succeeded');
        expect(line.x_governance.quality?.consistency).toBe(1);
        continue;
      }
      expect(line.error?.code).toBe('schema_validation_failed');
      expect(line.x_governance.outcome).toBe('errored');
      // Scored, but no verdict: no thresholds were set at create.
      expect(line.x_governance.quality).toEqual({
        completeness: expect.any(Number),
        consistency: 0,
        governance_clean: true,
      });
      if (badJson.includes(line.custom_id)) {
        expect(content).toMatch(/^this is not JSON: /);
        expect(line.error?.issues).toEqual([expect.stringMatching(/^content is not valid JSON: /)]);
      } else {
        expect(JSON.parse(content)).toEqual({ echo: expect.stringMatching(/^other /) });
        expect(line.error?.issues).toEqual(['content/echo must match pattern "^item"']);
      }
    }
  });

  it('enforces a request-level response_format json_schema without a batch schema', async () => {
    const needsScore = {
      type: 'json_schema',
      json_schema: { name: 'scored', strict: true, schema: { type: 'object', required: ['echo', 'score'] } },
    };
    const echoOnly = { type: 'json_schema', json_schema: { name: 'echo', schema: ECHO_SCHEMA } };
    const lines = [
      jsonChat('needs-score', 'item a', needsScore),
      jsonChat('echo-only', 'item b', echoOnly),
      jsonChat('echo-only-bad', 'item c #sim:badjson', echoOnly),
      jsonChat('json-mode', 'item d', { type: 'json_object' }),
      chatLine('plain', 'gpt-4o-mini', 'item e'),
    ];
    const { batch, lines: results } = await runBatch(lines);
    const byId = new Map(results.map((l) => [l.custom_id, l]));
    expect(byId.get('needs-score')?.error).toMatchObject({
      code: 'schema_validation_failed',
      issues: ["content must have required property 'score'"],
    });
    expect(byId.get('echo-only-bad')?.error?.code).toBe('schema_validation_failed');
    for (const id of ['echo-only', 'json-mode', 'plain']) expect(byId.get(id)?.error).toBeNull();
    expect(batch.request_counts).toEqual({ total: 5, completed: 3, failed: 2 });
  });

  it('validates the output_text of /v1/responses against text.format', async () => {
    const format = { type: 'json_schema', name: 'echo', schema: ECHO_SCHEMA };
    const line = (id: string, input: string): RequestLine => ({
      custom_id: id,
      method: 'POST',
      url: '/v1/responses',
      body: { model: 'gpt-4o-mini', input, text: { format } },
    });
    const { batch, lines: results } = await runBatch(
      [line('ok', 'item 1'), line('bad', 'item 2 #sim:badjson')],
      {
        endpoint: '/v1/responses',
      },
    );
    expect(batch.request_counts).toEqual({ total: 2, completed: 1, failed: 1 });
    const bad = results.find((l) => l.custom_id === 'bad')!;
    expect(bad.error?.code).toBe('schema_validation_failed');
    expect(bad.response?.body.output[0].content[0].text).toMatch(/^this is not JSON/);
  });

  it('rejects an invalid x_output_schema at create with a 400 naming the parameter', async () => {
    const file = await uploadJsonl(stack.openai, toJsonl([chatLine('a', 'gpt-4o-mini', 'hi')]));
    for (const schema of [{ type: 'strin' }, { type: 'object', required: 'echo' }]) {
      const error = await expectApiError(
        await postBatch({ input_file_id: file.id, x_output_schema: schema }),
        400,
      );
      expect(error.param).toBe('x_output_schema');
    }
    const notAnObject = await expectApiError(
      await postBatch({ input_file_id: file.id, x_output_schema: 'nope' }),
      400,
    );
    expect(notAnObject.param).toBe('x_output_schema');
    // Embeddings have no generated text a schema could apply to.
    const embeddings = await expectApiError(
      await postBatch({ input_file_id: file.id, endpoint: '/v1/embeddings', x_output_schema: ECHO_SCHEMA }),
      400,
    );
    expect(embeddings.param).toBe('x_output_schema');
  });
});

describe('quality scoring (x_quality)', () => {
  // "echo: " + text: short prompts score low completeness, long ones (≥ 44 chars) reach 1.
  const lines = [
    ...Array.from({ length: 6 }, (_, i) =>
      chatLine(`long-${i}`, 'gpt-4o', `a long enough prompt to be complete, number ${i}`),
    ),
    ...Array.from({ length: 4 }, (_, i) => chatLine(`short-${i}`, 'gpt-4o', `tiny ${i}`)),
    chatLine('flagged', 'gpt-4o', 'a long enough prompt to be complete, but flagged #sim:flag'),
    chatLine('blocked', 'gpt-4o', 'a long enough prompt to be complete, but blocked #sim:409'),
  ];

  const tally = (results: GovernedLine[]) => {
    const scored = results.filter((l) => l.x_governance.quality);
    return { scored: scored.length, passed: scored.filter((l) => l.x_governance.quality!.passed).length };
  };

  it('scores every answered line without a verdict when no thresholds were set', async () => {
    const { batch, lines: results } = await runBatch(lines);
    const scored = results.filter((l) => l.x_governance.quality);
    expect(scored).toHaveLength(11);
    // A short but correct answer must not read as a failure against limits nobody chose.
    for (const line of scored) expect(line.x_governance.quality).not.toHaveProperty('passed');
    expect(batch.x_quality).toEqual({
      scored: 11,
      passed: null,
      min_completeness: null,
      min_consistency: null,
    });
    const byId = new Map(results.map((l) => [l.custom_id, l]));
    expect(byId.get('long-0')?.x_governance.quality).toEqual({
      completeness: 1,
      consistency: 1,
      governance_clean: true,
    });
    expect(byId.get('short-0')?.x_governance.quality).toEqual({
      completeness: 0.24,
      consistency: 1,
      governance_clean: true,
    });
    expect(byId.get('flagged')?.x_governance).toMatchObject({
      outcome: 'flagged',
      quality: { completeness: 1, governance_clean: false },
    });
    expect(byId.get('blocked')?.x_governance.quality).toBeUndefined();
  });

  it('judges every scored line against thresholds set at create', async () => {
    const thresholds = { min_completeness: 0.8, min_consistency: 0.7 };
    const { batch, lines: results } = await runBatch(lines, { x_quality_thresholds: thresholds });
    expect(tally(results)).toEqual({ scored: 11, passed: 6 });
    expect(batch.x_quality).toEqual({ scored: 11, passed: 6, ...thresholds });
    const byId = new Map(results.map((l) => [l.custom_id, l]));
    expect(byId.get('long-0')?.x_governance.quality).toEqual({
      completeness: 1,
      consistency: 1,
      governance_clean: true,
      passed: true,
    });
    expect(byId.get('short-0')?.x_governance.quality?.passed).toBe(false);
    expect(byId.get('flagged')?.x_governance.quality?.passed).toBe(false);
  });

  it('applies the thresholds given at create', async () => {
    const thresholds = { min_completeness: 0.2, min_consistency: 0.9 };
    const { batch, lines: results } = await runBatch(lines, { x_quality_thresholds: thresholds });
    expect(tally(results)).toEqual({ scored: 11, passed: 10 });
    expect(batch.x_quality).toEqual({ scored: 11, passed: 10, ...thresholds });
  });
});
