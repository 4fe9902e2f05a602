import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../src/config';
import { startApi } from '../src/main/start-api';
import { expectApiError } from './harness/api-errors';
import { chatLine, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

const KEY_A = 'sk-team-a-4f9d0c7e1b2a';
const KEY_B = 'sk-team-b-8c1e5a9d3f70'; // listed only as its sha256
const KEY_Q = 'sk-quota-q-77aa21c9e0d4';
const sha256 = (k: string) => createHash('sha256').update(k).digest('hex');

const dir = mkdtempSync(join(tmpdir(), 'batchgw-auth-'));
const keysFile = join(dir, 'keys.json');
const keys: Record<string, unknown> = {
  [KEY_A]: 'auth-team-a',
  [`sha256:${sha256(KEY_B)}`]: { tenant: 'auth-team-b', weight: 3, max_in_flight: 7 },
  [KEY_Q]: { tenant: 'auth-team-q', weight: 2, max_active_batches: 2, max_in_flight: 100 },
};
/** Rewrites the keys file as editors do: a temporary file renamed over it. */
const writeKeys = (content: Record<string, unknown> | string) => {
  const tmp = join(dir, `.keys-${Date.now()}.tmp`);
  writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content));
  renameSync(tmp, keysFile);
};
writeKeys(keys);

let stack: Stack;
/** Batches to cancel before the stack closes (a worker shutting down waits for in-flight requests). */
const toCancel: [string, string][] = [];
const client = (apiKey: string, maxRetries = 0) =>
  new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey, maxRetries });
const raw = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) =>
  fetch(`${stack.apiUrl}${path}`, { ...init, headers: { ...headers, ...(init.headers ?? {}) } });
const until = async (check: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  stack = await startStack({
    API_KEYS_FILE: keysFile,
    GATEWAY_TENANT_HEADER: 'X-Tenant-Id',
    PASSTHROUGH_HEADERS: 'x-tenant-id,x-cost-center',
    // One request of `m-slow` at a time in the worker: such batches stay active, and a cancel drains fast.
    MODEL_CONCURRENCY_OVERRIDES: '{"m-slow": 1}',
  });
});
afterAll(async () => {
  for (const [key, id] of toCancel)
    await client(key)
      .batches.cancel(id)
      .catch(() => undefined);
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('API keys', () => {
  it('answers 401 in OpenAI’s shape without a key, with a wrong key or a malformed header', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /^You didn't provide an API key\./],
      [{ authorization: 'Bearer sk-wrong-000000000000' }, /^Incorrect API key provided: sk-\*\*\*0000\./],
      [{ authorization: 'Bearer short' }, /^Incorrect API key provided: \*\*\*\./],
      [{ authorization: `Basic ${Buffer.from(`:${KEY_A}`).toString('base64')}` }, /^Malformed Authorization/],
      [{ authorization: 'Bearer' }, /^Malformed Authorization/],
      [{ authorization: `Bearer ${KEY_A} extra` }, /^Malformed Authorization/],
      [{ authorization: `Bearer ${sha256(KEY_B)}` }, /^Incorrect API key provided/],
    ];
    for (const [headers, message] of cases) {
      for (const [method, path] of [
        ['GET', '/v1/files'],
        ['GET', '/v1/batches'],
        ['POST', '/v1/batches'],
        ['GET', '/v1/batches/batch_abc'],
        ['GET', '/v1/no-such-route'],
      ]) {
        const res = await raw(path, headers, { method });
        expect(res.headers.get('www-authenticate')).toBe('Bearer');
        expect(res.headers.get('x-request-id')).toMatch(/^req_/);
        const error = await expectApiError(res, 401);
        expect(error, JSON.stringify(headers)).toMatchObject({ param: null, code: 'invalid_api_key' });
        expect(error.message).toMatch(message);
        expect(error.message).not.toContain(KEY_A);
      }
    }
    // /health needs no key.
    expect((await raw('/health')).status).toBe(200);
  });

  it('makes the openai client raise AuthenticationError', async () => {
    for (const key of ['sk-wrong-000000000000', '']) {
      const err = await client(key || 'x y')
        .files.list()
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((err as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
      expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    }
    // And works with a listed key, plain or listed as its sha256.
    await expect(client(KEY_A).files.list()).resolves.toBeDefined();
    await expect(client(KEY_B).batches.list()).resolves.toBeDefined();
  });

  it('reloads the file on change without a restart; a bad file keeps the previous keys', async () => {
    const KEY_NEW = 'sk-new-team-0a1b2c3d4e';
    expect((await raw('/v1/files', { authorization: `Bearer ${KEY_NEW}` })).status).toBe(401);
    writeKeys({ ...keys, [KEY_NEW]: 'auth-team-new' });
    await until(async () => (await raw('/v1/files', { authorization: `Bearer ${KEY_NEW}` })).status === 200);
    // Broken JSON: logged, the keys of the last good file stay in force.
    writeKeys('{"oops": ');
    await new Promise((r) => setTimeout(r, 400));
    expect((await raw('/v1/files', { authorization: `Bearer ${KEY_NEW}` })).status).toBe(200);
    // A key taken out stops working.
    writeKeys(keys);
    await until(async () => (await raw('/v1/files', { authorization: `Bearer ${KEY_NEW}` })).status === 401);
    expect((await raw('/v1/files', { authorization: `Bearer ${KEY_A}` })).status).toBe(200);
  });

  it('sets GATEWAY_TENANT_HEADER from the tenant on every gateway call, whatever the client sends', async () => {
    const openai = client(KEY_A);
    const file = await uploadJsonl(
      openai,
      toJsonl([1, 2, 3, 4].map((i) => chatLine(`t-${i}`, 'm-1', `hi ${i}`))),
    );
    const res = await raw(
      '/v1/batches',
      {
        authorization: `Bearer ${KEY_A}`,
        'content-type': 'application/json',
        // Listed in PASSTHROUGH_HEADERS, but GATEWAY_TENANT_HEADER is never taken from a client.
        'x-tenant-id': 'auth-team-b',
        'x-cost-center': 'cc-42',
      },
      {
        method: 'POST',
        body: JSON.stringify({
          input_file_id: file.id,
          endpoint: '/v1/chat/completions',
          completion_window: '24h',
        }),
      },
    );
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    expect((await waitForBatch(openai, id)).status).toBe('completed');
    const stats = stack.sim.batch(id);
    expect(stats.calls).toBe(4);
    expect(stats.lastHeaders!['x-tenant-id']).toBe('auth-team-a');
    expect(stats.lastHeaders!['x-cost-center']).toBe('cc-42');
    // The tenant's share went into the batch's options (the workers' fair sharing reads it).
    const memo = (await stack.client.workflow.getHandle(id).describe()).memo as {
      options: { tenantShare: unknown };
    };
    expect(memo.options.tenantShare).toEqual({ weight: 1, maxInFlight: null });
  });
});

describe('max_active_batches', () => {
  it('answers 429 above the limit, for creates and replays; an idempotent retry still finds its batch', async () => {
    const openai = client(KEY_Q);
    const createFrom = async (fileId: string, headers: Record<string, string> = {}, key = KEY_Q) => {
      const res = await raw(
        '/v1/batches',
        { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
        {
          method: 'POST',
          body: JSON.stringify({
            input_file_id: fileId,
            endpoint: '/v1/chat/completions',
            completion_window: '24h',
          }),
        },
      );
      if (res.status === 200) toCancel.push([key, ((await res.clone().json()) as { id: string }).id]);
      return res;
    };
    const create = async (lines: unknown[], headers: Record<string, string> = {}, key = KEY_Q) =>
      createFrom((await uploadJsonl(client(key), toJsonl(lines))).id, headers, key);
    // A finished batch with a failed line, to replay later.
    const done = (await (
      await create([chatLine('ok', 'm-1', 'ok'), chatLine('no', 'm-1', '#sim:409')])
    ).json()) as {
      id: string;
    };
    expect((await waitForBatch(openai, done.id)).status).toBe('completed');

    // Two long-running batches (one request of m-slow at a time, 1 s each): the limit is reached.
    const slow = Array.from({ length: 50 }, (_, i) =>
      chatLine(`slow-${i}`, 'm-slow', `s ${i} #sim:delay=1000`),
    );
    const slowFile = await uploadJsonl(openai, toJsonl(slow));
    const first = await createFrom(slowFile.id, { 'idempotency-key': 'quota-first' });
    expect(first.status).toBe(200);
    const firstId = ((await first.json()) as { id: string }).id;
    const second = await create(slow);
    expect(second.status).toBe(200);
    const secondBatch = (await second.json()) as { id: string };

    const third = await create(slow);
    expect(third.headers.get('x-should-retry')).toBe('false');
    const error = await expectApiError(third, 429, 'rate_limit_error');
    expect(error).toMatchObject({ code: 'too_many_active_batches', param: null });
    expect(error.message).toMatch(/Tenant 'auth-team-q' has 2 active batches.*max_active_batches: 2/);

    // The openai client raises RateLimitError at once (no retries of its own, even when allowed).
    const file = await uploadJsonl(openai, toJsonl(slow));
    const started = Date.now();
    const err = await client(KEY_Q, 2)
      .batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(Date.now() - started).toBeLessThan(400);

    // A replay creates a batch too.
    const replay = await raw(
      `/v1/batches/${done.id}/replay`,
      { authorization: `Bearer ${KEY_Q}` },
      { method: 'POST' },
    );
    expect((await expectApiError(replay, 429, 'rate_limit_error')).code).toBe('too_many_active_batches');
    // The retry of a create that got its batch answers that batch.
    const retry = await createFrom(slowFile.id, { 'idempotency-key': 'quota-first' });
    expect(retry.status).toBe(200);
    expect(((await retry.json()) as { id: string }).id).toBe(firstId);
    // Other tenants are not limited by it.
    const other = await create(slow, {}, KEY_A);
    expect(other.status).toBe(200);

    // One ends: there is room again, for a replay.
    await openai.batches.cancel(secondBatch.id);
    await waitForBatch(openai, secondBatch.id);
    const replayed = await raw(
      `/v1/batches/${done.id}/replay`,
      { authorization: `Bearer ${KEY_Q}` },
      { method: 'POST' },
    );
    expect(replayed.status).toBe(200);
    const replayId = ((await replayed.json()) as { id: string }).id;
    const memo = (await stack.client.workflow.getHandle(replayId).describe()).memo as {
      options: { tenantShare: unknown };
    };
    expect(memo.options.tenantShare).toEqual({ weight: 2, maxInFlight: 100 });
    await waitForBatch(openai, replayId);

    // Room for one: of four concurrent creates, exactly one gets it (visibility trails starts by ms).
    const files = await Promise.all([0, 1, 2, 3].map(() => uploadJsonl(openai, toJsonl(slow))));
    const answers = await Promise.all(files.map((f) => createFrom(f.id)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429, 429, 429]);
  });
});

/** Runs `npm run api`'s entry point to its exit; for starts that must fail. */
async function runApiEntry(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/api.ts'], {
    cwd: join(__dirname, '..'),
    env: { ...process.env, TEMPORAL_ADDRESS: inject('temporalAddress'), DATA_DIR: dir, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  return { code, stderr };
}

describe('starting the API', () => {
  const base = () => ({
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    DATA_DIR: dir,
    PORT: '0',
    LOG_LEVEL: 'silent',
  });

  it('refuses a non-loopback HOST without authentication unless ALLOW_UNAUTHENTICATED=true', async () => {
    await expect(startApi(loadConfig({ ...base(), HOST: '0.0.0.0' }))).rejects.toThrow(
      /^refusing to listen on HOST=0\.0\.0\.0 without authentication: .*ALLOW_UNAUTHENTICATED=true/,
    );
    const open = await startApi(loadConfig({ ...base(), HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: 'true' }));
    try {
      expect(open.authLine).toBe(
        "none: every caller is tenant 'default' on 0.0.0.0, because ALLOW_UNAUTHENTICATED=true",
      );
      const port = new URL(open.url).port;
      expect((await fetch(`http://127.0.0.1:${port}/v1/files`)).status).toBe(200);
    } finally {
      await open.close();
    }
    // With keys, any HOST.
    const keyed = await startApi(loadConfig({ ...base(), HOST: '0.0.0.0', API_KEYS_FILE: keysFile }));
    await keyed.close();
    // The entry point says so in one line and exits 2, as for any bad setting.
    const refused = await runApiEntry({ HOST: '0.0.0.0' });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^refusing to listen on HOST=0\.0\.0\.0 without authentication/);
  });

  it('exits with one line naming the problem of a bad keys file', async () => {
    const bad = join(dir, 'bad-keys.json');
    writeFileSync(
      bad,
      JSON.stringify({ 'sk-secret-key-123456': { tenant: 'auth-team-a', max_in_flight: 0 } }),
    );
    const res = await runApiEntry({ API_KEYS_FILE: bad });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(
      /^invalid configuration: API_KEYS_FILE .*bad-keys\.json: entry #1: 'max_in_flight': /,
    );
    expect(res.stderr).not.toContain('sk-secret');
  });

  it('reloads the keys on SIGHUP', async () => {
    // The keys file is a symlink into another directory: its changes reach no watcher, only SIGHUP.
    const real = mkdtempSync(join(tmpdir(), 'batchgw-auth-real-'));
    const target = join(real, 'keys.json');
    writeFileSync(target, JSON.stringify({ [KEY_A]: 'auth-team-a' }));
    const linked = join(dir, 'linked-keys.json');
    symlinkSync(target, linked);
    const api = await startApi(loadConfig({ ...base(), API_KEYS_FILE: linked }));
    try {
      const KEY_HUP = 'sk-after-sighup-123456';
      const status = async () =>
        (await fetch(`${api.url}/v1/files`, { headers: { authorization: `Bearer ${KEY_HUP}` } })).status;
      expect(await status()).toBe(401);
      writeFileSync(target, JSON.stringify({ [KEY_A]: 'auth-team-a', [KEY_HUP]: 'auth-team-hup' }));
      await new Promise((r) => setTimeout(r, 300));
      expect(await status()).toBe(401); // not watched
      process.kill(process.pid, 'SIGHUP'); // startApi's handler, in this process
      await until(async () => (await status()) === 200);
    } finally {
      await api.close();
      rmSync(real, { recursive: true, force: true });
    }
    // close() removed the handler; vitest's fork would die of an unhandled SIGHUP otherwise.
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });
});
