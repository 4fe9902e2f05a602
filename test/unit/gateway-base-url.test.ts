import { describe, expect, it } from 'vitest';
import { gatewayBase } from '../../src/gateway/client';

// GATEWAY_URL in both the forms people write (issue 7, item 13): request paths such as
// `/v1/chat/completions` are appended to what gatewayBase returns.
describe('gatewayBase', () => {
  it.each([
    ['https://gw.example', 'https://gw.example'],
    ['https://gw.example/', 'https://gw.example'],
    ['https://gw.example/v1', 'https://gw.example'],
    ['https://gw.example/v1/', 'https://gw.example'],
    ['https://gw.example/v1//', 'https://gw.example'],
    ['http://127.0.0.1:8090/v1', 'http://127.0.0.1:8090'],
    ['https://gw.example/openai/v1', 'https://gw.example/openai'],
    ['https://gw.example/openai/', 'https://gw.example/openai'],
    // Only one trailing /v1 is the OpenAI-style suffix; a path that merely contains v1 is kept.
    ['https://gw.example/v1/v1', 'https://gw.example/v1'],
    ['https://gw.example/api-v1', 'https://gw.example/api-v1'],
    ['https://v1.gw.example', 'https://v1.gw.example'],
  ])('%s → %s', (url, base) => {
    expect(gatewayBase(url)).toBe(base);
  });
});
