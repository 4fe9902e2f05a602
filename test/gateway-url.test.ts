// GATEWAY_URL written like an OpenAI base URL (`…/v1`) works, and a worker says in one line when
// its gateway is unreachable or does not serve the batch endpoints (issue 7, item 13).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startSimulator, type Simulator } from '../src/simulator/server';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { freePort } from './harness/ports';
import { spawnEntry, WORKER_NODE_FLAGS } from './harness/processes';
import { startStack, type Stack } from './harness/stack';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('GATEWAY_URL with a /v1 suffix', () => {
  it('a batch against <gateway>/v1 completes with every line a 2xx, sent to /v1/chat/completions', async () => {
    const sim: Simulator = await startSimulator({ port: 0, latencyMs: 5 });
    cleanups.push(() => sim.close());
    const stack: Stack = await startStack({ GATEWAY_URL: `${sim.url}/v1` });
    cleanups.push(() => stack.close());

    const lines = Array.from({ length: 6 }, (_, i) =>
      chatLine(`r${i}`, i % 2 ? 'gpt-4o' : 'gpt-4o-mini', `x${i}`),
    );
    const done = await waitForBatch(stack.openai, (await createBatch(stack.openai, lines)).id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 6, completed: 6, failed: 0 });
    expect(done.error_file_id).toBeNull();
    const out = await readResultFile(stack.openai, done.output_file_id);
    expect(out.map((l) => l.response?.status_code)).toEqual(Array(6).fill(200));
    // The calls reached this simulator (not the stack's own), on the right path.
    expect(sim.batch(done.id).calls).toBe(6);
    expect(sim.stats().byEndpoint).toEqual({ '/v1/chat/completions': 6 });
  });
});

/** Spawns `npm run worker`'s entry against `gatewayUrl` and returns its output once it polls. */
async function workerOutput(gatewayUrl: string): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'batchgw-probe-'));
  const proc = await spawnEntry(
    'worker',
    'src/main/worker.ts',
    {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: `probe-${randomBytes(6).toString('hex')}`,
      DATA_DIR: dataDir,
      GATEWAY_URL: gatewayUrl,
      GATEWAY_API_KEY: 'probe-key',
      LOG_LEVEL: 'warn',
    },
    /polling task queue/,
    WORKER_NODE_FLAGS,
  );
  await proc.stop();
  rmSync(dataDir, { recursive: true, force: true });
  return proc.output();
}

const probeLines = (out: string) => out.split('\n').filter((l) => l.startsWith('gateway probe:'));

describe('the gateway probe at worker start', () => {
  it('an unreachable gateway: one UNREACHABLE line, and the worker keeps running', async () => {
    const port = await freePort(); // nothing listens there
    const out = await workerOutput(`http://127.0.0.1:${port}/v1`);
    const lines = probeLines(out);
    expect(lines, out).toHaveLength(1);
    expect(lines[0]).toContain(`http://127.0.0.1:${port}/v1 is UNREACHABLE`);
    expect(lines[0]).toMatch(/ECONNREFUSED/);
  });

  it('a server that answers 404 to everything: one line saying it does not serve the batch endpoints', async () => {
    const seen: string[] = [];
    const server: Server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not here');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { port } = server.address() as { port: number };
    const out = await workerOutput(`http://127.0.0.1:${port}`);
    const lines = probeLines(out);
    expect(lines, out).toHaveLength(1);
    expect(lines[0]).toContain('does NOT SERVE the batch endpoints');
    expect(lines[0]).toContain('404 on GET /v1/models');
    expect(lines[0]).toContain('404 on POST /v1/chat/completions');
    expect(seen).toEqual(['GET /v1/models Bearer probe-key', 'POST /v1/chat/completions Bearer probe-key']);
  });

  it('a real gateway written with /v1/: one line saying it answers, and no call to a batch endpoint', async () => {
    const sim = await startSimulator({ port: 0, latencyMs: 5 });
    cleanups.push(() => sim.close());
    const out = await workerOutput(`${sim.url}/v1/`);
    const lines = probeLines(out);
    expect(lines, out).toHaveLength(1);
    expect(lines[0]).toBe(`gateway probe: ${sim.url}/v1 answers (GET /v1/models → 200)`);
    expect(sim.stats().calls).toBe(0);
  });
});
