import { describe, expect, it } from 'vitest';
import { checkInputLine } from '../../src/domain/input-line';

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
