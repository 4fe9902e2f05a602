// Connecting to any Temporal: worker, API and temporal CLI against the real server with mTLS, configured only by TEMPORAL_* variables.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcScheduleId } from '../../src/temporal/gc-schedule';
import { startSimulator, type Simulator } from '../../src/simulator/server';
import { chatLine, createBatch, readResultFile, waitForBatch } from '../harness/batches';
import { freePort } from '../harness/ports';
import { spawnEntry, WORKER_NODE_FLAGS, type Proc } from '../harness/processes';
import {
  foreignJwt,
  startTemporalCluster,
  temporalCli,
  type TemporalCluster,
} from '../harness/temporal-cluster';
import { createCa, issueCertificate } from '../harness/tls-certs';

/** How long a refused worker may take to say so: far less than the 60 s a hang would run into. */
const REFUSAL_BOUND_MS = 30_000;
const execFileP = promisify(execFile);

let cluster: TemporalCluster;
let sim: Simulator;
let dataDir: string;
const procs: Proc[] = [];

beforeAll(async () => {
  // A namespace of its own: TEMPORAL_NAMESPACE must reach every process and the CLI.
  cluster = await startTemporalCluster({ tls: 'mtls', namespace: 'tls-team' });
  console.log(`mTLS cluster started in ${cluster.startupMs} ms ${JSON.stringify(cluster.phasesMs)}`);
  sim = await startSimulator({ port: 0, latencyMs: 5 });
  dataDir = mkdtempSync(join(tmpdir(), 'batchgw-tls-'));
  // The workers of this file share DATA_DIR: bundle the workflow code there once, now, so no
  // worker start waits for webpack on a loaded machine (they find the bundle up to date).
  mkdirSync(join(dataDir, 'worker'));
  await execFileP(process.execPath, [
    '--import',
    'tsx',
    'src/temporal/bundle-workflows.ts',
    join(dataDir, 'worker', 'workflow-bundle.js'),
    '--if-stale',
  ]);
});

afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await sim?.close();
  await cluster?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Everything but how to reach Temporal; that comes from `temporal` (the cluster's TEMPORAL_* variables, or a variation). */
function appEnv(temporal: Record<string, string>, taskQueue: string, port = 0): Record<string, string> {
  return {
    // Unset explicitly (empty means unset to loadConfig): nothing from the test's own environment.
    TEMPORAL_ADDRESS: '',
    TEMPORAL_NAMESPACE: '',
    TEMPORAL_TLS: '',
    TEMPORAL_TLS_CERT: '',
    TEMPORAL_TLS_KEY: '',
    TEMPORAL_TLS_CA: '',
    TEMPORAL_TLS_SERVER_NAME: '',
    TEMPORAL_API_KEY: '',
    ...temporal,
    TEMPORAL_TASK_QUEUE: taskQueue,
    DATA_DIR: dataDir,
    GATEWAY_URL: sim.url,
    PORT: String(port),
    RETRY_BASE_MS: '20',
    RETRY_MAX_MS: '200',
    LOG_LEVEL: 'warn',
  };
}

async function startWorker(env: Record<string, string>): Promise<Proc> {
  const p = await spawnEntry('worker', 'src/main/worker.ts', env, /polling task queue/, WORKER_NODE_FLAGS);
  procs.push(p);
  return p;
}

async function startApi(env: Record<string, string>): Promise<{ proc: Proc; openai: OpenAI; url: string }> {
  const proc = await spawnEntry('api', 'src/main/api.ts', env, /listening on/);
  procs.push(proc);
  const url = `http://127.0.0.1:${env.PORT}`;
  return { proc, url, openai: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 }) };
}

/** A worker start that must fail: the error (with the process output) and how long it took. */
async function refusedWorker(env: Record<string, string>): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  const message = await startWorker(env).then(
    (p) => {
      throw new Error(`the worker started, it should have been refused:\n${p.output()}`);
    },
    (err: Error) => err.message,
  );
  return { message, ms: Date.now() - t0 };
}

const without = (env: Record<string, string>, ...keys: string[]) =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !keys.includes(k)));

describe('mTLS: worker, API and CLI configured only by TEMPORAL_* variables', () => {
  it('the CLI itself reads them: TEMPORAL_ADDRESS, _NAMESPACE, _TLS_CERT, _TLS_KEY, _TLS_CA, _TLS_SERVER_NAME', async () => {
    expect(Object.keys(cluster.env).sort()).toEqual([
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_TLS_CA',
      'TEMPORAL_TLS_CERT',
      'TEMPORAL_TLS_KEY',
      'TEMPORAL_TLS_SERVER_NAME',
    ]);
    // No flags at all. The namespace comes from TEMPORAL_NAMESPACE: the cluster has no `default`
    // namespace, so a CLI that ignored it would answer "Namespace default is not found".
    const list = ['workflow', 'list', '--limit', '1'];
    await temporalCli(list, cluster.env);
    await expect(temporalCli(list, without(cluster.env, 'TEMPORAL_NAMESPACE'))).rejects.toThrow(
      /Namespace default is not found/,
    );
    // And each TLS setting matters: without one of them the server or the CLI refuses.
    await expect(
      temporalCli(list, without(cluster.env, 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY')),
      // (Under TLS 1.3 the server's refusal may reach the client as a closed connection.)
    ).rejects.toThrow(/certificate|broken pipe|connection reset|EOF/i);
    await expect(temporalCli(list, without(cluster.env, 'TEMPORAL_TLS_SERVER_NAME'))).rejects.toThrow(
      /certificate|x509/i,
    );
    await expect(temporalCli(list, without(cluster.env, 'TEMPORAL_TLS_CA'))).rejects.toThrow(
      /certificate|x509/i,
    );
  });

  it('a batch runs to completion through the openai client; the list works on SQL visibility; the CLI lists the workflow', async () => {
    const queue = `tls-${Date.now()}`;
    const env = appEnv(cluster.env, queue, await freePort());
    const [worker, api] = await Promise.all([startWorker(env), startApi(env)]);
    expect(worker.output()).toMatch(
      /polling task queue .* \(mTLS, own CA, server name temporal\.cluster\.test\) namespace 'tls-team'/,
    );

    const lines = Array.from({ length: 20 }, (_, i) => chatLine(`req-${i}`, 'gpt-4o-mini', `hello ${i}`));
    const created = await createBatch(api.openai, lines);
    const done = await waitForBatch(api.openai, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: 20, completed: 20, failed: 0 });
    const results = await readResultFile(api.openai, done.output_file_id);
    expect(results.map((r) => r.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
    expect(results.every((r) => r.response?.status_code === 200)).toBe(true);

    // GET /v1/batches on the server's SQL visibility (no ORDER BY there).
    const page = await api.openai.batches.list({ limit: 10 });
    expect(page.data.map((b) => b.id)).toContain(created.id);

    // The CLI, with the same variables and no flags about the connection, finds the workflow.
    const listed = await temporalCli(
      ['workflow', 'list', '--query', `WorkflowId = '${created.id}'`],
      cluster.env,
    );
    expect(listed).toContain(created.id);
    expect(listed).toMatch(/Completed/);

    // The worker made its GC schedule over the same connection, and the server's own workers
    // (which run schedules) reach the mTLS frontend: describe is answered by them.
    expect(worker.output()).not.toMatch(/could not be set up/);
    const connection = await Connection.connect(cluster.connectionOptions);
    try {
      const client = new Client({ connection, namespace: cluster.namespace });
      const schedule = await client.schedule.getHandle(gcScheduleId(queue)).describe();
      expect(schedule.action.type).toBe('startWorkflow');
    } finally {
      await connection.close();
    }
    await Promise.all([worker.stop(), api.proc.stop()]);
  });

  it('a worker without the client certificate is refused with a clear message, not a hang', async () => {
    const env = appEnv(without(cluster.env, 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'), `nocert-${Date.now()}`);
    const { message, ms } = await refusedWorker(env);
    expect(message).toMatch(/exited with 2/);
    expect(message).toMatch(/client certificate \(mTLS\)(: |, )set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY/);
    expect(ms).toBeLessThan(REFUSAL_BOUND_MS);
  });

  it('a worker trusting another CA, or expecting another name, fails clearly', async () => {
    const other = await createCa(dataDir, 'other');
    const wrongCa = await refusedWorker(
      appEnv({ ...cluster.env, TEMPORAL_TLS_CA: other.cert }, `wrongca-${Date.now()}`),
    );
    expect(wrongCa.message).toMatch(/not signed by the CA in TEMPORAL_TLS_CA/);
    expect(wrongCa.ms).toBeLessThan(REFUSAL_BOUND_MS);

    const wrongName = await refusedWorker(
      appEnv({ ...cluster.env, TEMPORAL_TLS_SERVER_NAME: 'other.cluster.test' }, `wrongname-${Date.now()}`),
    );
    expect(wrongName.message).toMatch(/set TEMPORAL_TLS_SERVER_NAME/);

    // A client certificate from a CA the server does not trust: the server refuses it.
    const stranger = await issueCertificate(other, 'stranger', 'clientAuth');
    const wrongClient = await refusedWorker(
      appEnv(
        { ...cluster.env, TEMPORAL_TLS_CERT: stranger.cert, TEMPORAL_TLS_KEY: stranger.key },
        `stranger-${Date.now()}`,
      ),
    );
    // Refused in the handshake (an alert) or just after it (a closed connection), by TLS 1.3 timing.
    expect(wrongClient.message).toMatch(/client certificate \(TEMPORAL_TLS_CERT\)/);
    expect(wrongClient.ms).toBeLessThan(REFUSAL_BOUND_MS);
  });

  it('an API that cannot reach Temporal over TLS says so on /health (it starts lazily)', async () => {
    const env = appEnv(
      without(cluster.env, 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY'),
      'nocert-api',
      await freePort(),
    );
    const api = await startApi(env);
    const res = await fetch(`${api.url}/health`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'temporal_unreachable' });
    await api.proc.stop();
  });

  it('a certificate file that does not exist is one line at start (exit 2), for the worker and the API', async () => {
    const env = appEnv(
      { ...cluster.env, TEMPORAL_TLS_CERT: join(dataDir, 'nope.pem') },
      'missing',
      await freePort(),
    );
    for (const [name, script, ready] of [
      ['worker', 'src/main/worker.ts', /polling task queue/],
      ['api', 'src/main/api.ts', /listening on/],
    ] as const) {
      const message = await spawnEntry(name, script, env, ready).then(
        () => 'started',
        (err: Error) => err.message,
      );
      expect(message).toMatch(/exited with 2/);
      expect(message).toMatch(/TEMPORAL_TLS_CERT: cannot read .*nope\.pem \(ENOENT\)/);
    }
  });
});

describe('API keys (TEMPORAL_API_KEY): the server verifies JWTs with its default authorizer and claim mapper', () => {
  let keyed: TemporalCluster;
  beforeAll(async () => {
    // TLS without client certificates, and a bearer token on every call: how Temporal Cloud's API keys work.
    keyed = await startTemporalCluster({ tls: 'tls', apiKeys: true, namespace: 'key-team' });
    console.log(`TLS + JWT cluster started in ${keyed.startupMs} ms ${JSON.stringify(keyed.phasesMs)}`);
  });
  afterAll(async () => {
    await keyed?.close();
  });

  /** The cluster's settings with another key (none: unset). */
  const withKey = (key: string | null) => ({
    ...without(keyed.env, 'TEMPORAL_API_KEY'),
    ...(key === null ? {} : { TEMPORAL_API_KEY: key }),
  });

  it('a worker and an API with a key for the namespace run a batch; the CLI with the same key lists it', async () => {
    const sign = keyed.signApiKey;
    if (!sign) throw new Error('the cluster has no key issuer');
    // Only the namespace's permission, as a team's key would have; no system permission.
    const temporal = withKey(sign(['key-team:admin']));
    const queue = `key-${Date.now()}`;
    const env = appEnv(temporal, queue, await freePort());
    const [worker, api] = await Promise.all([startWorker(env), startApi(env)]);
    expect(worker.output()).toMatch(
      /polling task queue .* \(TLS, own CA, server name temporal\.cluster\.test, API key\)/,
    );
    const created = await createBatch(api.openai, [
      chatLine('a', 'gpt-4o-mini', 'hi'),
      chatLine('b', 'gpt-4o-mini', 'ho'),
    ]);
    const done = await waitForBatch(api.openai, created.id);
    expect(done.request_counts).toEqual({ total: 2, completed: 2, failed: 0 });
    expect(worker.output()).not.toMatch(/could not be set up/);
    const listed = await temporalCli(
      ['workflow', 'list', '--query', `WorkflowId = '${created.id}'`],
      temporal,
    );
    expect(listed).toContain(created.id);

    // The same API without a key: it starts (lazily) but Temporal refuses its calls.
    const keyless = await startApi(appEnv(withKey(null), queue, await freePort()));
    await expect(keyless.openai.batches.list()).rejects.toThrow();
    await expect(temporalCli(['workflow', 'list', '--limit', '1'], withKey(null))).rejects.toThrow(
      /unauthorized|permission/i,
    );
    await Promise.all([worker.stop(), api.proc.stop(), keyless.proc.stop()]);
  });

  it('a worker without a key, with a key signed by someone else, or with a key for another namespace is refused at start', async () => {
    const sign = keyed.signApiKey;
    if (!sign) throw new Error('the cluster has no key issuer');
    const none = await refusedWorker(appEnv(withKey(null), `nokey-${Date.now()}`));
    expect(none.message).toMatch(/exited with 2/);
    expect(none.message).toMatch(/requires authentication: set TEMPORAL_API_KEY/);
    expect(none.ms).toBeLessThan(REFUSAL_BOUND_MS);

    for (const key of [foreignJwt(['key-team:admin']), sign(['other-team:admin'])]) {
      const refused = await refusedWorker(appEnv(withKey(key), `badkey-${Date.now()}`));
      expect(refused.message).toMatch(/refused the API key \(TEMPORAL_API_KEY\)/);
      expect(refused.message).not.toContain(key);
      expect(refused.ms).toBeLessThan(REFUSAL_BOUND_MS);
    }
  });
});
