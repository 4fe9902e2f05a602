import { describe, expect, it } from 'vitest';
import {
  chatContent,
  completionContent,
  contentExtractor,
  responsesContent,
} from '../../src/governance/content';
import { createOutputChecks, NO_CHECKS } from '../../src/governance/output-checks';
import { completeness, plainTextConsistency, scoreQuality } from '../../src/governance/quality';
import { requestedFormat } from '../../src/governance/request-format';
import { compileSchema } from '../../src/governance/schema';
import { emptyGovernance } from '../../src/domain/batch-state';
import { countTags, outcomeTags } from '../../src/records/outcome';

/** Thresholds a user might set with `x_quality_thresholds`. */
const DEFAULTS = { min_completeness: 0.8, min_consistency: 0.7 };
const CHAT = '/v1/chat/completions';
const RESPONSES = '/v1/responses';
const COMPLETIONS = '/v1/completions';

const PERSON = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
  required: ['name', 'age'],
  additionalProperties: false,
};

const chatAnswer = (content: string | null, finish = 'stop') => ({
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finish }],
});
const responsesAnswer = (...texts: string[]) => ({
  status: 'completed',
  output: [
    { type: 'reasoning', content: [] },
    { type: 'message', content: texts.map((text) => ({ type: 'output_text', text, annotations: [] })) },
  ],
});
const completionAnswer = (text: string) => ({ choices: [{ index: 0, text, finish_reason: 'stop' }] });
const chatRequest = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

const long = (s: string) => s.padEnd(60, '.');

describe('content extraction', () => {
  it.each([
    ['chat string', chatContent(chatAnswer('hello')), 'hello', false],
    ['chat null content (refusal)', chatContent(chatAnswer(null)), '', false],
    ['chat truncated', chatContent(chatAnswer('cut', 'length')), 'cut', true],
    [
      'chat content parts',
      chatContent({ choices: [{ message: { content: [{ type: 'text', text: 'a' }, { text: 'b' }] } }] }),
      'ab',
      false,
    ],
    ['chat without choices', chatContent({ error: 'x' }), '', false],
    ['chat not JSON', chatContent(undefined), '', false],
    [
      'responses output_text parts joined',
      responsesContent(responsesAnswer('{"a":', '1}')),
      '{"a":1}',
      false,
    ],
    [
      'responses skips other part types',
      responsesContent({ output: [{ content: [{ type: 'refusal', refusal: 'no' }] }] }),
      '',
      false,
    ],
    ['responses incomplete', responsesContent({ status: 'incomplete', output: [] }), '', true],
    ['completions choices[0].text', completionContent(completionAnswer('done')), 'done', false],
  ])('%s', (_name, got, text, truncated) => {
    expect(got).toEqual({ text, truncated });
  });

  it('has no extractor for endpoints without generated text', () => {
    expect(contentExtractor('/v1/embeddings')).toBeNull();
    expect(contentExtractor('/v1/moderations')).toBeNull();
    expect(contentExtractor(CHAT)).toBe(chatContent);
  });
});

describe('requested format', () => {
  it.each([
    ['plain chat', CHAT, chatRequest(), { kind: 'text' }],
    ['chat json_object', CHAT, chatRequest({ response_format: { type: 'json_object' } }), { kind: 'json' }],
    [
      'chat json_schema',
      CHAT,
      chatRequest({ response_format: { type: 'json_schema', json_schema: { name: 'p', schema: PERSON } } }),
      { kind: 'schema', schemaText: JSON.stringify(PERSON) },
    ],
    [
      'chat json_schema without a schema',
      CHAT,
      chatRequest({ response_format: { type: 'json_schema', json_schema: { name: 'p' } } }),
      { kind: 'json' },
    ],
    [
      'responses text.format json_schema',
      RESPONSES,
      JSON.stringify({ input: 'x', text: { format: { type: 'json_schema', name: 'p', schema: PERSON } } }),
      { kind: 'schema', schemaText: JSON.stringify(PERSON) },
    ],
    [
      'responses text.format json_object',
      RESPONSES,
      JSON.stringify({ input: 'x', text: { format: { type: 'json_object' } } }),
      { kind: 'json' },
    ],
    [
      'a "json_" mention in a prompt only',
      CHAT,
      JSON.stringify({ messages: [{ role: 'user', content: 'say "json_object"' }] }),
      { kind: 'text' },
    ],
    ['unparseable body', CHAT, '{"json_', { kind: 'text' }],
  ])('%s', (_name, endpoint, body, want) => {
    expect(requestedFormat(endpoint, body)).toEqual(want);
  });
});

describe('schema compilation', () => {
  it('compiles once per schema text and reports readable issues', () => {
    const text = JSON.stringify(PERSON);
    const compiled = compileSchema(text);
    expect(compileSchema(text)).toBe(compiled);
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.check({ name: 'a', age: 3 })).toBeNull();
    expect(compiled.check({ name: 1, extra: true })).toEqual([
      "content must have required property 'age'",
      "content must not have additional property 'extra'",
      'content/name must be string',
    ]);
  });

  it.each([
    ['unknown type', { type: 'strin' }],
    ['non-schema value for a keyword', { type: 'object', required: 'name' }],
    ['unknown dialect', { $schema: 'http://example.com/unknown#', type: 'object' }],
  ])('rejects an invalid schema: %s', (_name, schema) => {
    expect(compileSchema(JSON.stringify(schema)).ok).toBe(false);
  });

  it('supports the 2020-12 dialect and tolerates vendor keywords', () => {
    const s2020 = compileSchema(
      JSON.stringify({
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'array',
        prefixItems: [{ type: 'string' }],
      }),
    );
    expect(s2020.ok && s2020.check(['a'])).toBeNull();
    expect(s2020.ok && s2020.check([1])).toEqual(['content/0 must be string']);
    expect(compileSchema(JSON.stringify({ type: 'object', strict: true, 'x-vendor': 1 })).ok).toBe(true);
  });

  it('lets two schemas share an $id', () => {
    const a = compileSchema(JSON.stringify({ $id: 'https://example.com/same', type: 'string' }));
    const b = compileSchema(JSON.stringify({ $id: 'https://example.com/same', type: 'number' }));
    expect(a.ok && b.ok).toBe(true);
    expect(b.ok && b.check(1)).toBeNull();
  });
});

describe('quality scores', () => {
  it.each([
    ['empty', '', false, 0],
    ['blank', '   ', false, 0],
    ['short', 'x'.repeat(10), false, 0.2],
    ['at target', 'x'.repeat(50), false, 1],
    ['long', 'x'.repeat(500), false, 1],
    ['long but truncated', 'x'.repeat(500), true, 0.5],
  ])('completeness: %s', (_name, text, truncated, want) => {
    expect(completeness({ text, truncated })).toBe(want);
  });

  it.each([
    ['clean prose', 'The quick brown fox jumps over the lazy dog.', 1],
    ['blank', ' \n ', 0],
    ['garbled bytes', 'ab\u0000\u0001\ufffd', 0.4],
    ['repetition loop', 'yes ' + 'the '.repeat(10) + 'end', 0.5],
    ['unclosed code fence', 'Here:\n```js\nconst a = 1;', 0.5],
    ['closed code fence', 'Here:\n```js\nconst a = 1;\n```', 1],
  ])('plain-text consistency: %s', (_name, text, want) => {
    expect(plainTextConsistency(text)).toBe(want);
  });

  it('passes only with both thresholds, governance-clean and no schema failure', () => {
    const content = { text: long('ok'), truncated: false };
    expect(scoreQuality(content, 1, false, false, DEFAULTS)).toEqual({
      completeness: 1,
      consistency: 1,
      governance_clean: true,
      passed: true,
    });
    expect(scoreQuality(content, 1, true, false, DEFAULTS).passed).toBe(false);
    expect(scoreQuality(content, 0.6, false, false, DEFAULTS).passed).toBe(false);
    expect(scoreQuality({ text: 'short', truncated: false }, 1, false, false, DEFAULTS).passed).toBe(false);
    const lax = { min_completeness: 0, min_consistency: 0 };
    expect(scoreQuality({ text: 'short', truncated: false }, 0, false, false, lax).passed).toBe(true);
    expect(scoreQuality(content, 0, false, true, lax).passed).toBe(false);
  });

  it('gives no verdict without thresholds (scores only)', () => {
    const short = scoreQuality({ text: 'short', truncated: false }, 1, false, false, null);
    expect(short).toEqual({ completeness: 0.1, consistency: 1, governance_clean: true });
    expect(outcomeTags({ outcome: 'succeeded', attempts: 1, cached: false, quality: short })).toBe('su');
    const tally = { governance: emptyGovernance(), quality: { scored: 0, passed: 0 } };
    countTags(tally, 'su');
    countTags(tally, 'sp');
    countTags(tally, 'sq');
    expect(tally.quality).toEqual({ scored: 3, passed: 1 });
  });
});

describe('output checks', () => {
  const personSchema = compileSchema(JSON.stringify(PERSON));
  const valid = JSON.stringify({ name: 'Ada Lovelace, the first programmer of them all', age: 36 });

  it.each([
    // [name, endpoint, batch schema?, request body, answer, schema issues (or null), consistency]
    ['batch schema, valid chat content', CHAT, true, chatRequest(), chatAnswer(valid), null, 1],
    [
      'batch schema, invalid chat content',
      CHAT,
      true,
      chatRequest(),
      chatAnswer('{"name":"x"}'),
      ["content must have required property 'age'"],
      0,
    ],
    [
      'batch schema, not JSON at all',
      CHAT,
      true,
      chatRequest(),
      chatAnswer('this is not JSON: hi'),
      [expect.stringMatching(/^content is not valid JSON: /)],
      0,
    ],
    [
      'batch schema, empty content',
      CHAT,
      true,
      chatRequest(),
      chatAnswer(null),
      ['content is empty; JSON was expected'],
      0,
    ],
    [
      'batch schema on responses output_text',
      RESPONSES,
      true,
      '{"input":"x"}',
      responsesAnswer('{"name":"a",', '"age":-1}'),
      ['content/age must be >= 0'],
      0,
    ],
    [
      'batch schema on completions text',
      COMPLETIONS,
      true,
      '{"prompt":"x"}',
      completionAnswer(valid),
      null,
      1,
    ],
    [
      'request-level json_schema enforced without a batch schema',
      CHAT,
      false,
      chatRequest({ response_format: { type: 'json_schema', json_schema: { name: 'p', schema: PERSON } } }),
      chatAnswer('{"name":"x","age":"3"}'),
      ['content/age must be integer'],
      0,
    ],
    [
      'request-level text.format schema enforced',
      RESPONSES,
      false,
      JSON.stringify({ input: 'x', text: { format: { type: 'json_schema', schema: PERSON } } }),
      responsesAnswer(valid),
      null,
      1,
    ],
    [
      'both schemas apply',
      CHAT,
      true,
      chatRequest({
        response_format: {
          type: 'json_schema',
          json_schema: { schema: { type: 'object', properties: { age: { maximum: 10 } } } },
        },
      }),
      chatAnswer(valid),
      ['content/age must be <= 10'],
      0,
    ],
    [
      'an invalid request-level schema is reported',
      CHAT,
      false,
      chatRequest({ response_format: { type: 'json_schema', json_schema: { schema: { type: 'strin' } } } }),
      chatAnswer('"x"'),
      [expect.stringMatching(/^the request's schema is not a valid JSON schema: /)],
      0,
    ],
    [
      'JSON mode, JSON object: consistent, no schema',
      CHAT,
      false,
      chatRequest({ response_format: { type: 'json_object' } }),
      chatAnswer('{"echo":"x"}'),
      null,
      1,
    ],
    [
      'JSON mode, not JSON: inconsistent but not an error line',
      CHAT,
      false,
      chatRequest({ response_format: { type: 'json_object' } }),
      chatAnswer('nope'),
      null,
      0,
    ],
    ['plain text', CHAT, false, chatRequest(), chatAnswer('echo: hi'), null, 1],
  ])('%s', (_name, endpoint, withSchema, requestBody, answer, issues, consistency) => {
    const checks = createOutputChecks(endpoint, withSchema ? personSchema : null, DEFAULTS);
    const verdict = checks.inspect(requestBody, answer, false);
    expect(verdict.schemaIssues).toEqual(issues);
    expect(verdict.quality?.consistency).toBe(consistency);
    expect(verdict.quality?.governance_clean).toBe(true);
  });

  it('scores completeness and governance cleanliness into pass/fail', () => {
    const checks = createOutputChecks(CHAT, null, DEFAULTS);
    expect(checks.inspect(chatRequest(), chatAnswer(long('echo: a')), false).quality).toEqual({
      completeness: 1,
      consistency: 1,
      governance_clean: true,
      passed: true,
    });
    expect(checks.inspect(chatRequest(), chatAnswer(long('echo: a')), true).quality?.passed).toBe(false);
    expect(checks.inspect(chatRequest(), chatAnswer('echo: a'), false).quality).toMatchObject({
      completeness: 0.14,
      passed: false,
    });
    const lax = createOutputChecks(CHAT, null, { min_completeness: 0.1, min_consistency: 0.7 });
    expect(lax.inspect(chatRequest(), chatAnswer('echo: a'), false).quality?.passed).toBe(true);
  });

  it('reports an invalid batch schema on every line', () => {
    const checks = createOutputChecks(CHAT, compileSchema('{"type":"strin"}'), DEFAULTS);
    expect(checks.inspect(chatRequest(), chatAnswer('{}'), false).schemaIssues?.[0]).toMatch(
      /^the batch x_output_schema is not a valid JSON schema/,
    );
  });

  it('does nothing for embeddings and moderations', () => {
    expect(createOutputChecks('/v1/embeddings', personSchema, DEFAULTS)).toBe(NO_CHECKS);
    expect(createOutputChecks('/v1/moderations', null, DEFAULTS)).toBe(NO_CHECKS);
  });
});

describe('patterns run in linear time (RE2)', () => {
  const catastrophic = { type: 'string', pattern: '^(a+)+$' };
  // A backtracking engine needs ~2^n steps to reject this: minutes at n = 40, forever at 10,000.
  const evil = 'a'.repeat(10_000) + 'b';

  it("checks `^(a+)+$` against a long near-miss at once, with the pattern's meaning", () => {
    const compiled = compileSchema(JSON.stringify(catastrophic));
    if (!compiled.ok) throw new Error(compiled.error);
    const started = performance.now();
    expect(compiled.check(evil)).toEqual(['content must match pattern "^(a+)+$"']);
    expect(compiled.check('a'.repeat(10_000))).toBeNull();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('applies patternProperties and unanchored patterns as JSON Schema means them', () => {
    const compiled = compileSchema(
      JSON.stringify({
        type: 'object',
        patternProperties: { '^(x+)+y$': { type: 'integer' } },
        properties: {
          code: { type: 'string', pattern: '\\d{3}' },
          name: { type: 'string', pattern: '^\\p{L}+$' },
        },
      }),
    );
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.check({ xxy: 1, code: 'ab123cd', name: 'Zoë' })).toBeNull();
    expect(compiled.check({ xxy: 'one', code: 'ab12', name: 'Zoë1' })).toEqual([
      'content/code must match pattern "\\d{3}"',
      'content/name must match pattern "^\\p{L}+$"',
      'content/xxy must be integer',
    ]);
    const started = performance.now();
    expect(compiled.check({ ['x'.repeat(20_000)]: 1 })).toBeNull();
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('keeps two patterns of one schema apart (ajv caches compiled patterns by their text)', () => {
    const compiled = compileSchema(
      JSON.stringify({
        type: 'object',
        properties: { a: { type: 'string', pattern: '^a$' }, b: { type: 'string', pattern: '^b$' } },
      }),
    );
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.check({ a: 'a', b: 'b' })).toBeNull();
    expect(compiled.check({ a: 'b', b: 'a' })).toHaveLength(2);
  });

  it.each([
    ['a backreference', '(a)\\1'],
    ['a lookahead', '^(?=.*\\d).+$'],
    ['a lookbehind', '(?<!x)y'],
  ])('marks a schema with %s unsupported, with a message saying why', (_name, pattern) => {
    const compiled = compileSchema(JSON.stringify({ type: 'string', pattern }));
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.unsupported).toBe(true);
    expect(compiled.error).toMatch(/cannot be checked in linear time/);
  });

  it('tells an invalid pattern from an unsupported one', () => {
    const compiled = compileSchema(JSON.stringify({ type: 'string', pattern: '([' }));
    expect(compiled.ok || compiled.unsupported).toBe(false);
    if (!compiled.ok) expect(compiled.error).toMatch(/is not a valid regular expression/);
  });

  it('fails a line whose own schema cannot be checked with schema_unsupported, whatever the answer', () => {
    const checks = createOutputChecks(CHAT, null, DEFAULTS);
    const body = chatRequest({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'p', schema: { type: 'string', pattern: '(a)\\1' } },
      },
    });
    const verdict = checks.inspect(body, chatAnswer('"aa"'), false);
    expect(verdict.schemaCode).toBe('schema_unsupported');
    expect(verdict.schemaIssues?.[0]).toMatch(/^the request's schema cannot be checked: pattern '\(a\)\\1'/);
    const fine = checks.inspect(
      chatRequest({
        response_format: { type: 'json_schema', json_schema: { name: 'p', schema: catastrophic } },
      }),
      chatAnswer(JSON.stringify(evil)),
      false,
    );
    expect(fine.schemaCode).toBe('schema_validation_failed');
  });
});
