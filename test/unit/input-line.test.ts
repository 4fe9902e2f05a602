import { describe, expect, it } from 'vitest';
import { clip } from '../../src/domain/clip';
import { checkInputLine, lineTooLarge } from '../../src/domain/input-line';
import { exceedsJsonDepth } from '../../src/domain/json-depth';

const rules = { endpoint: '/v1/chat/completions' };
const line = (o: unknown) => JSON.stringify(o);
const ok = {
  custom_id: 'a',
  method: 'POST',
  url: '/v1/chat/completions',
  body: { model: 'm', messages: [] },
};

const codeOf = (text: string, r: Parameters<typeof checkInputLine>[2] = rules) => {
  const res = checkInputLine(text, 7, r);
  return res.ok ? 'ok' : [res.error.code, res.error.param, res.error.line];
};

describe('input line validation', () => {
  it('accepts a valid line and names its model', () => {
    const res = checkInputLine(line(ok), 1, rules);
    expect(res.ok && res.model).toBe('m');
  });
  it.each([
    ['not json', '{"custom_id":', ['invalid_json_line', null, 7]],
    ['an array', '[1,2]', ['invalid_json_line', null, 7]],
    ['no custom_id', line({ ...ok, custom_id: undefined }), ['missing_required_parameter', 'custom_id', 7]],
    ['no method', line({ ...ok, method: undefined }), ['missing_required_parameter', 'method', 7]],
    ['no url', line({ ...ok, url: undefined }), ['missing_required_parameter', 'url', 7]],
    ['no body', line({ ...ok, body: undefined }), ['missing_required_parameter', 'body', 7]],
    ['another url', line({ ...ok, url: '/v1/embeddings' }), ['invalid_url', 'url', 7]],
    [
      'streaming',
      line({ ...ok, body: { ...ok.body, stream: true } }),
      ['streaming_unsupported', 'body.stream', 7],
    ],
    ['no model', line({ ...ok, body: { messages: [] } }), ['invalid_request', 'body.model', 7]],
    ['GET', line({ ...ok, method: 'GET' }), ['invalid_request', 'method', 7]],
    ['numeric custom_id', line({ ...ok, custom_id: 5 }), ['invalid_request', 'custom_id', 7]],
  ])('rejects %s', (_name, text, expected) => {
    expect(codeOf(text)).toEqual(expected);
  });
  it('applies the model allow-list', () => {
    expect(codeOf(line(ok), { ...rules, allowedModels: new Set(['other']) })).toEqual([
      'model_not_found',
      'body.model',
      7,
    ]);
    expect(codeOf(line(ok), { ...rules, allowedModels: new Set(['m']) })).toBe('ok');
  });
});

describe('custom_id length', () => {
  const withId = (id: string) => line({ ...ok, custom_id: id });
  it('accepts 512 characters and refuses 513 by default, quoting the id clipped', () => {
    expect(codeOf(withId('x'.repeat(512)))).toBe('ok');
    const res = checkInputLine(withId('y'.repeat(513)), 4, rules);
    expect(res.ok ? null : res.error).toEqual({
      code: 'invalid_request',
      param: 'custom_id',
      line: 4,
      message: `Line 4: custom_id '${clip('y'.repeat(513))}' is longer than 512 characters.`,
    });
  });
  it('refuses a custom_id of megabytes with a short message', () => {
    const res = checkInputLine(withId('z'.repeat(5_000_000)), 9, rules);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.error.message.length).toBeLessThan(150);
  });
  it('counts characters, not UTF-16 units: 512 emoji pass, 513 do not', () => {
    expect(codeOf(withId('😀'.repeat(512)))).toBe('ok');
    expect(codeOf(withId('😀'.repeat(513)))).toEqual(['invalid_request', 'custom_id', 7]);
  });
  it('applies the configured limit', () => {
    expect(codeOf(withId('abcde'), { ...rules, maxCustomIdLength: 4 })).toEqual([
      'invalid_request',
      'custom_id',
      7,
    ]);
    expect(codeOf(withId('x'.repeat(2000)), { ...rules, maxCustomIdLength: 4096 })).toBe('ok');
  });
});

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('JSON nesting depth', () => {
  it('rejects a deep line before parsing, at any depth, without a stack overflow', () => {
    for (const depth of [65, 100_000, 1_000_000]) {
      const text = `{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m","x":${nested(depth)}}}`;
      const res = checkInputLine(text, 3, rules);
      expect(res.ok ? 'ok' : [res.error.code, res.error.line]).toEqual(['json_too_deep', 3]);
    }
    // Unclosed brackets (not JSON at all) are caught by the same scan, not by a parse.
    expect(codeOf('['.repeat(1_000_000))).toEqual(['json_too_deep', null, 7]);
  });
  it('accepts a real structured-output request with a nested json_schema', () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 12; i++)
      schema = {
        type: 'object',
        properties: { child: schema, tags: { type: 'array', items: { type: 'string' } } },
      };
    const body = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'fill the form' }] }],
      response_format: { type: 'json_schema', json_schema: { name: 'form', strict: true, schema } },
    };
    const res = checkInputLine(line({ ...ok, body }), 1, { ...rules, maxJsonDepth: 64 });
    expect(res.ok).toBe(true);
  });
  it('counts brackets inside strings as text, and the limit is configurable', () => {
    expect(exceedsJsonDepth(JSON.stringify({ s: '[[[[[[[[[["\\' }), 2)).toBe(false);
    // An escaped quote does not end a string; an escaped backslash before a quote does.
    expect(exceedsJsonDepth(String.raw`["a\"[[[[[", 1]`, 1)).toBe(false);
    expect(exceedsJsonDepth(String.raw`["a\\", [[[1]]]]`, 3)).toBe(true);
    expect(exceedsJsonDepth(String.raw`["a\\", [[1]]]`, 3)).toBe(false);
    expect(exceedsJsonDepth(nested(5), 5)).toBe(false);
    expect(exceedsJsonDepth(nested(6), 5)).toBe(true);
    const res = checkInputLine(line({ ...ok, body: { model: 'm', a: [[[1]]] } }), 2, {
      ...rules,
      maxJsonDepth: 3,
    });
    expect(res.ok ? 'ok' : res.error.message).toBe(
      'Line 2 nests JSON objects or arrays deeper than the maximum of 3 levels.',
    );
  });
});

describe('error messages quote user strings short', () => {
  const huge = 'x'.repeat(100_000);
  it.each([
    ['a url', { ...ok, url: '/v1/' + huge }, {}],
    ['a model not served', { ...ok, body: { model: huge } }, { allowedModels: new Set(['m']) }],
    ['a model name too long to carry', { ...ok, body: { model: huge } }, {}],
  ])('%s', (_name, obj, extra) => {
    const res = checkInputLine(line(obj), 1, { ...rules, ...extra });
    if (res.ok) throw new Error('expected an error');
    expect(res.error.message.length).toBeLessThan(200);
    expect(res.error.message).toContain('xxx…');
  });
  it('clips to 64 characters with an ellipsis, never splitting a surrogate pair', () => {
    expect(clip('short')).toBe('short');
    expect(clip('y'.repeat(65))).toBe('y'.repeat(64) + '…');
    const emoji = 'a'.repeat(63) + '😀' + 'b';
    expect(clip(emoji)).toBe('a'.repeat(63) + '…');
  });
  it('words the too-large error by line number and limit only', () => {
    expect(lineTooLarge(9, 1024)).toEqual({
      code: 'line_too_large',
      message: 'Line 9 is larger than the maximum of 1024 bytes per line.',
      param: null,
      line: 9,
    });
  });
});

describe('bodies are kept as written', () => {
  it('keeps a `__proto__` key of the body (zod records would drop it) and names the model', () => {
    const text =
      '{"custom_id":"__proto__","method":"POST","url":"/v1/chat/completions","body":{"model":"constructor","__proto__":{"x":1},"messages":[]}}';
    const res = checkInputLine(text, 1, rules);
    if (!res.ok) throw new Error(res.error.message);
    expect(res.model).toBe('constructor');
    expect(res.line.custom_id).toBe('__proto__');
    expect(JSON.stringify(res.line.body)).toBe('{"model":"constructor","__proto__":{"x":1},"messages":[]}');
  });
  it('rejects a body that is not an object', () => {
    expect(codeOf(line({ ...ok, body: [1] }))).toEqual(['invalid_request', 'body', 7]);
    expect(codeOf(line({ ...ok, body: 'text' }))).toEqual(['invalid_request', 'body', 7]);
  });
  it('does not read a model from Object.prototype', () => {
    expect(codeOf(line({ ...ok, body: { messages: [] } }))).toEqual(['invalid_request', 'body.model', 7]);
  });
});
