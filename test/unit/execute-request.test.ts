import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayClient } from '../../src/gateway/client';
import { executeRequest } from '../../src/gateway/execute-request';

// The retry loop against a real HTTP server that answers from a script of statuses.
let server: Server;
let client: GatewayClient;
let script: { status: number; headers?: Record<string, string> }[] = [];
let calls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    const step = script[Math.min(calls, script.length - 1)];
    calls++;
    res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
    res.end(JSON.stringify({ status: step.status }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  client = new GatewayClient({
    baseUrl: `http://127.0.0.1:${port}`,
    apiKey: 'k',
    connections: 4,
    timeoutMs: 2000,
  });
});
afterAll(async () => {
  await client.close();
  server.close();
});

const run = (s: typeof script, opts: { maxAttempts?: number; maxElapsedMs?: number } = {}) => {
  script = s;
  calls = 0;
  return executeRequest(client, '/v1/chat/completions', '{}', {
    maxAttempts: opts.maxAttempts ?? 5,
    maxElapsedMs: opts.maxElapsedMs,
    backoff: { baseMs: 10, maxMs: 2000 },
    headers: {},
  });
};

describe('executeRequest', () => {
  it('never retries 409, 401 or 403, nor other 4xx', async () => {
    for (const status of [409, 401, 403, 400, 422]) {
      const out = await run([{ status }, { status: 200 }]);
      expect(out).toMatchObject({ kind: 'response', status, attempts: 1 });
      expect(calls).toBe(1);
    }
  });

  it('retries 429 and 5xx to success, up to max attempts', async () => {
    expect(
      await run([{ status: 429, headers: { 'retry-after': '0' } }, { status: 503 }, { status: 200 }]),
    ).toMatchObject({
      status: 200,
      attempts: 3,
    });
    expect(await run([{ status: 500 }], { maxAttempts: 3 })).toMatchObject({ status: 500, attempts: 3 });
    expect(calls).toBe(3);
  });

  it('stops retrying when the next attempt would start past the elapsed-time limit', async () => {
    const started = Date.now();
    // Retry-After of 1 s: with a 500 ms limit the first answer is final.
    const out = await run([{ status: 429, headers: { 'retry-after': '1' } }, { status: 200 }], {
      maxElapsedMs: 500,
    });
    expect(out).toMatchObject({ status: 429, attempts: 1 });
    expect(Date.now() - started).toBeLessThan(500);
    // With room for the wait, the retry happens.
    expect(
      await run([{ status: 429, headers: { 'retry-after': '0.2' } }, { status: 200 }], {
        maxElapsedMs: 2000,
      }),
    ).toMatchObject({
      status: 200,
      attempts: 2,
    });
  });
});
