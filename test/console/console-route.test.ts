// /console serves the built page, script and stylesheet without an API key (the API itself still
// asks for one), with a policy that allows no other origin; unknown names are OpenAI-shaped 404s.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchService } from '../../src/api/batch-service';
import { webUiLinkOf } from '../../src/api/console-route';
import { buildApiServer } from '../../src/api/server';
import { loadConfig } from '../../src/config';
import { CONSOLE_FILES, writeConsole } from '../../src/console/build';
import { SecretBox } from '../../src/security/secret-box';
import { FileRepository } from '../../src/storage/file-repository';
import { FsObjectStore } from '../../src/storage/fs-store';
import { freePort } from '../harness/ports';

const dir = mkdtempSync(join(tmpdir(), 'batchgw-console-route-'));
let app: FastifyInstance;
let connection: Connection;

beforeAll(async () => {
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ 'sk-console-route-1234': 'console-team' }));
  // No Temporal is needed to serve files: the connection is lazy and never used.
  connection = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: 500 });
  const store = new FsObjectStore(join(dir, 'storage'));
  app = await buildApiServer({
    store,
    files: new FileRepository(store),
    batches: new BatchService(new Client({ connection }), 'q', store),
    maxUploadBytes: 1024,
    completionWindows: ['24h', '48h'],
    secrets: new SecretBox(randomBytes(32)),
    auth: { mode: 'keys', file: keysFile, watch: false },
    logLevel: 'silent',
    webUi: webUiLinkOf(
      loadConfig({ TEMPORAL_UI_URL: 'https://temporal.example.com/', TEMPORAL_NAMESPACE: 'batches' }),
    ),
  });
});
afterAll(async () => {
  await app.close();
  await connection.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the console route', () => {
  it('serves the page without a key, with a policy that allows only this origin', async () => {
    for (const url of ['/console', '/console/', '/console/index.html']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<script src="/console/console.js" defer></script>');
      expect(res.body).toContain('<label for="api-key">API key</label>');
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("script-src 'self'");
    }
  });

  it('serves the bundled script and the stylesheet, which name no other origin', async () => {
    const js = await app.inject({ method: 'GET', url: '/console/console.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // Bundled: no import of another file is left for the browser to fetch.
    expect(js.body).not.toMatch(/\bimport\s*[({"']/);
    expect(js.body).toContain('/v1/batches');
    const css = await app.inject({ method: 'GET', url: '/console/console.css' });
    expect(css.statusCode).toBe(200);
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    const html = await app.inject({ method: 'GET', url: '/console' });
    for (const body of [html.body, css.body]) expect(body).not.toMatch(/https?:\/\/|@import|url\(/);
  });

  it('tells the page its Web UI link and completion windows', async () => {
    const res = await app.inject({ method: 'GET', url: '/console/settings.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      temporalUiUrl: 'https://temporal.example.com',
      namespace: 'batches',
      completionWindows: ['24h', '48h'],
    });
  });

  it('answers other names with an OpenAI-shaped 404, and the API still wants a key', async () => {
    for (const url of [
      '/console/package.json',
      '/console/..%2Fpackage.json',
      '/console/constructor',
      '/console/__proto__',
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error).toMatchObject({ type: 'not_found_error' });
    }
    const api = await app.inject({ method: 'GET', url: '/v1/batches' });
    expect(api.statusCode).toBe(401);
    expect(api.json().error.code).toBe('invalid_api_key');
  });

  it('builds the same files for dist/console as it serves from the sources', async () => {
    const out = join(dir, 'dist-console');
    await writeConsole(out);
    for (const name of CONSOLE_FILES) {
      const served = await app.inject({ method: 'GET', url: `/console/${name}` });
      expect(readFileSync(join(out, name), 'utf8'), name).toBe(served.body);
    }
  });
});
