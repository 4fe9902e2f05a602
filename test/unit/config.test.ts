import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, modelConcurrency } from '../../src/config';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.COMPLETION_WINDOWS).toEqual(['24h']);
    expect(c.MAX_REQUESTS_PER_BATCH).toBe(50_000);
    expect(c.MAX_UPLOAD_BYTES).toBe(200 * 1024 * 1024);
    expect(c.GATEWAY_URL).toBeUndefined();
  });
  it('parses lists and per-model overrides', () => {
    const c = loadConfig({ COMPLETION_WINDOWS: '24h, 1h', MODEL_CONCURRENCY_OVERRIDES: '{"gpt-4o": 3}' });
    expect(c.COMPLETION_WINDOWS).toEqual(['24h', '1h']);
    expect(c.MODEL_CONCURRENCY_OVERRIDES).toEqual(new Map([['gpt-4o', 3]]));
  });
  it('answers per-model settings for models named like Object.prototype members from the default', () => {
    const c = loadConfig({
      MODEL_CONCURRENCY: '7',
      MODEL_CONCURRENCY_OVERRIDES: '{"gpt-4o": 3, "__proto__": 2}',
      MODEL_RATE_LIMITS: '{"gpt-4o": {"rpm": 60}}',
    });
    for (const model of ['constructor', 'toString', 'hasOwnProperty', 'valueOf'])
      expect(modelConcurrency(c, model)).toBe(7);
    // JSON.parse makes `__proto__` an own key: it is a model like any other.
    expect(modelConcurrency(c, '__proto__')).toBe(2);
    expect(c.MODEL_RATE_LIMITS.get('constructor')).toBeUndefined();
  });
  it('has the documented input limits', () => {
    const c = loadConfig({});
    expect(c.MAX_MODELS_PER_BATCH).toBe(256);
    expect(c.MAX_LINE_BYTES).toBe(10 * 1024 * 1024);
    expect(c.MAX_JSON_DEPTH).toBe(64);
    expect(c.FINALIZE_CACHE_BYTES).toBe(32 * 1024 * 1024);
  });
  it('names every bad variable in one line', () => {
    expect(() => loadConfig({ PORT: 'abc', GATEWAY_URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'abc', GATEWAY_URL: 'not a url' });
    } catch (err) {
      expect((err as Error).message).toMatch(/PORT/);
      expect((err as Error).message).toMatch(/GATEWAY_URL/);
      expect((err as Error).message).not.toContain('\n');
    }
  });
  it('makes an entry point print one line and exit non-zero on a bad value', () => {
    const root = resolve(__dirname, '../..');
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'src/main/api.ts'], {
      cwd: root,
      env: { ...process.env, PORT: 'not-a-port' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(res.status).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/^invalid configuration: PORT/);
  });
});
