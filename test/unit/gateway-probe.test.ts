import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { probeGateway } from '../../src/gateway/probe';

// The start-up probe against real HTTP servers that answer in each way a gateway can.
let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('probeGateway', () => {
  it('a gateway that accepts the connection but never answers: UNREACHABLE within the timeout', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    const p = await probeGateway(url, 'k', 300);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(p.ok).toBe(false);
    expect(p.line).toBe(
      `gateway probe: ${url}/v1 is UNREACHABLE (no answer within 300 ms); batches will retry their requests until it answers`,
    );
  });

  it('a gateway that refuses the key: one line naming GATEWAY_API_KEY', async () => {
    const url = await serve((_req, res) => res.writeHead(401).end());
    const p = await probeGateway(`${url}/v1`, 'wrong', 1000);
    expect(p.ok).toBe(false);
    expect(p.line).toContain('REFUSES the API key (HTTP 401 on GET /v1/models)');
    expect(p.line).toContain('GATEWAY_API_KEY');
  });

  it('no /v1/models but a chat endpoint that rejects an empty request: it answers', async () => {
    const calls: string[] = [];
    const url = await serve((req, res) => {
      calls.push(`${req.method} ${req.url}`);
      res.writeHead(req.url === '/prefix/v1/chat/completions' ? 400 : 404).end();
    });
    const p = await probeGateway(`${url}/prefix/v1`, '', 1000);
    expect(p).toEqual({
      ok: true,
      line: `gateway probe: ${url}/prefix/v1 answers (POST /v1/chat/completions → 400; no /v1/models)`,
    });
    expect(calls).toEqual(['GET /prefix/v1/models', 'POST /prefix/v1/chat/completions']);
  });
});
