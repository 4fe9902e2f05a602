import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema, type Batch } from '../src/domain/batch';
import {
  chatLine,
  readResultFile,
  toJsonl,
  uploadJsonl,
  waitForBatch,
  type RequestLine,
} from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Two stacks only: startup costs seconds. `limited` serves one model and caps batches at 3 requests.
let stack: Stack;
let limited: Stack;
beforeAll(async () => {
  [stack, limited] = await Promise.all([
    startStack(),
    startStack({ ALLOWED_MODELS: 'gpt-4o-mini, text-embedding-3-small', MAX_REQUESTS_PER_BATCH: '3' }),
  ]);
});
afterAll(async () => {
  await Promise.all([stack?.close(), limited?.close()]);
});

interface Expected {
  code: string;
  param: string | null;
  line: number | null;
}

/** Uploads raw JSONL text, creates a batch through the official client and waits until it is terminal. */
async function runBatch(s: Stack, text: string, endpoint = '/v1/chat/completions'): Promise<Batch> {
  const file = await uploadJsonl(s.openai, text);
  const created = await s.openai.batches.create({
    input_file_id: file.id,
    endpoint: endpoint as '/v1/chat/completions',
    completion_window: '24h',
  });
  expect(created.status).toBe('validating');
  return BatchSchema.parse(await waitForBatch(s.openai, created.id));
}

/** The batch failed validation with exactly these errors (in line order) and produced no files. */
function expectFailed(batch: Batch, expected: Expected[]): void {
  expect(batch.status).toBe('failed');
  expect(typeof batch.failed_at).toBe('number');
  expect(batch.failed_at!).toBeGreaterThanOrEqual(batch.created_at);
  expect(batch.in_progress_at).toBeNull();
  expect(batch.completed_at).toBeNull();
  expect(batch.output_file_id).toBeNull();
  expect(batch.error_file_id).toBeNull();
  expect(batch.errors?.object).toBe('list');
  const data = batch.errors!.data;
  expect(data.map(({ code, param, line }) => ({ code, param, line }))).toEqual(expected);
  for (const e of data) {
    expect(typeof e.message).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
  }
}

const line = (id: string, text = 'hi'): RequestLine => chatLine(id, 'gpt-4o-mini', text);
const json = (v: unknown): string => JSON.stringify(v);

describe('input validation fails the batch with one error per bad line', () => {
  it('invalid_json_line: a line that is not JSON (and a JSON non-object)', async () => {
    const text = [
      json(line('a')),
      '{"custom_id": "b", "method": "POST",',
      json(line('c')),
      '[1,2,3]',
      '',
    ].join('\n');
    expectFailed(await runBatch(stack, text), [
      { code: 'invalid_json_line', param: null, line: 2 },
      { code: 'invalid_json_line', param: null, line: 4 },
    ]);
  });

  it.each(['custom_id', 'method', 'url', 'body'] as const)(
    'missing_required_parameter names the missing %s',
    async (field) => {
      const bad: Record<string, unknown> = { ...line('b') };
      delete bad[field];
      const text = toJsonl([line('a'), line('x'), bad]);
      expectFailed(await runBatch(stack, text), [
        { code: 'missing_required_parameter', param: field, line: 3 },
      ]);
    },
  );

  it('invalid_url: a line whose url differs from the batch endpoint', async () => {
    const text = toJsonl([line('a'), { ...line('b'), url: '/v1/embeddings' }, line('c')]);
    expectFailed(await runBatch(stack, text), [{ code: 'invalid_url', param: 'url', line: 2 }]);
  });

  it('streaming_unsupported: body.stream true', async () => {
    const streaming = line('b');
    const text = toJsonl([{ ...streaming, body: { ...streaming.body, stream: true } }, line('a')]);
    expectFailed(await runBatch(stack, text), [
      { code: 'streaming_unsupported', param: 'body.stream', line: 1 },
    ]);
  });

  it('invalid_request: body.model missing', async () => {
    const text = toJsonl([
      line('a'),
      line('b'),
      { ...line('c'), body: { messages: [{ role: 'user', content: 'x' }] } },
    ]);
    expectFailed(await runBatch(stack, text), [{ code: 'invalid_request', param: 'body.model', line: 3 }]);
  });

  it('duplicate_custom_id reports the second occurrence', async () => {
    const text = toJsonl([line('a'), line('b'), line('c'), line('b'), line('d')]);
    expectFailed(await runBatch(stack, text), [{ code: 'duplicate_custom_id', param: 'custom_id', line: 4 }]);
  });

  it('empty_file: a file of only blank lines', async () => {
    expectFailed(await runBatch(stack, '\n  \n\n\t\n'), [{ code: 'empty_file', param: null, line: null }]);
  });

  it('empty_file: a zero-byte file', async () => {
    expectFailed(await runBatch(stack, ''), [{ code: 'empty_file', param: null, line: null }]);
  });

  it('CRLF line endings count lines the same way', async () => {
    const text =
      [json(line('a')), '', 'oops', json({ ...line('b'), url: '/v1/responses' })].join('\r\n') + '\r\n';
    expectFailed(await runBatch(stack, text), [
      { code: 'invalid_json_line', param: null, line: 3 },
      { code: 'invalid_url', param: 'url', line: 4 },
    ]);
  });

  it('several bad lines: one entry each, with physical line numbers (blank lines count)', async () => {
    const noBody = { ...line('e') } as Record<string, unknown>;
    delete noBody.body;
    const text = [
      json(line('a')), // 1 ok
      'nope', // 2
      '', // 3 blank
      json({ ...line('c'), url: '/v1/completions' }), // 4
      json(line('d')), // 5 ok
      json(noBody), // 6
      json(line('a')), // 7 duplicate of line 1
      '   ', // 8 blank
      json({ ...line('f'), body: { model: 'gpt-4o-mini', messages: [], stream: true } }), // 9
      json({ ...line('g'), body: { messages: [] } }), // 10
    ].join('\n');
    expectFailed(await runBatch(stack, text), [
      { code: 'invalid_json_line', param: null, line: 2 },
      { code: 'invalid_url', param: 'url', line: 4 },
      { code: 'missing_required_parameter', param: 'body', line: 6 },
      { code: 'duplicate_custom_id', param: 'custom_id', line: 7 },
      { code: 'streaming_unsupported', param: 'body.stream', line: 9 },
      { code: 'invalid_request', param: 'body.model', line: 10 },
    ]);
  });
});

describe('valid input', () => {
  it('blank lines between valid lines are ignored', async () => {
    const text = [
      '',
      json(line('a', 'one')),
      '',
      '   ',
      json(line('b', 'two')),
      '\t',
      json(line('c', 'three')),
      '',
      '',
    ].join('\n');
    const done = await runBatch(stack, text);
    expect(done.status).toBe('completed');
    expect(done.errors).toBeNull();
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const output = await readResultFile(stack.openai, done.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(['a', 'b', 'c']);
    expect(done.error_file_id).toBeNull();
  });

  it('an /v1/embeddings batch completes', async () => {
    const lines = ['alpha', 'beta', 'gamma'].map((input, i) => ({
      custom_id: `emb-${i}`,
      method: 'POST',
      url: '/v1/embeddings',
      body: { model: 'text-embedding-3-small', input },
    }));
    const done = await runBatch(stack, toJsonl(lines), '/v1/embeddings');
    expect(done.status).toBe('completed');
    expect(done.endpoint).toBe('/v1/embeddings');
    expect(done.model).toBe('text-embedding-3-small');
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
    const output = await readResultFile(stack.openai, done.output_file_id);
    expect(output.map((l) => l.custom_id).sort()).toEqual(['emb-0', 'emb-1', 'emb-2']);
    for (const l of output) {
      expect(l.error).toBeNull();
      expect(l.response!.status_code).toBe(200);
      expect(l.response!.body.object).toBe('list');
      expect(Array.isArray(l.response!.body.data[0].embedding)).toBe(true);
      expect(l.response!.body.data[0].embedding.length).toBeGreaterThan(0);
    }
    expect(done.usage.input_tokens).toBeGreaterThan(0);
  });
});

describe('operator limits', () => {
  it('model_not_found: a model outside ALLOWED_MODELS', async () => {
    const text = toJsonl([line('a'), chatLine('b', 'gpt-4o', 'hi'), line('c')]);
    expectFailed(await runBatch(limited, text), [{ code: 'model_not_found', param: 'body.model', line: 2 }]);
  });

  it('a batch of exactly MAX_REQUESTS_PER_BATCH allowed requests completes', async () => {
    const done = await runBatch(limited, toJsonl([line('a'), line('b'), line('c')]));
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 3, completed: 3, failed: 0 });
  });

  it('too_many_tasks: more requests than MAX_REQUESTS_PER_BATCH', async () => {
    const text = toJsonl([line('a'), line('b'), line('c'), line('d')]);
    expectFailed(await runBatch(limited, text), [{ code: 'too_many_tasks', param: null, line: null }]);
  });
});
