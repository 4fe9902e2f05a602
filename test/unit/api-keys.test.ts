import { createHash } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeyRing, lookupKey, parseKeysFile } from '../../src/api/auth/api-keys';
import { authSettingsOf, checkExposure, isLoopback } from '../../src/api/auth/authenticate';
import { ConfigError } from '../../src/config';

const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'batchgw-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const until = async (check: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('API keys file', () => {
  it('takes JavaScript property names as keys and tenants, never Object.prototype', () => {
    // JSON.parse makes `__proto__` an own key: it must be a key like any other.
    const table = parseKeysFile('{"__proto__": "constructor", "sk-other-0123456789": "toString"}');
    expect(lookupKey(table, '__proto__')?.tenant).toBe('constructor');
    expect(lookupKey(table, 'sk-other-0123456789')?.tenant).toBe('toString');
    for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf'])
      expect(lookupKey(table, name)).toBeNull();
  });

  it('maps plain and sha256 keys to tenants, with quota defaults', () => {
    const table = parseKeysFile(
      JSON.stringify({
        'sk-team-a-0123456789': 'team-a',
        [`sha256:${sha('sk-team-b-0123456789').toUpperCase()}`]: {
          tenant: 'team-b',
          weight: 2,
          max_active_batches: 20,
          max_in_flight: 100,
        },
        'sk-team-c-0123456789': { tenant: 'team.c_1' },
      }),
    );
    expect(lookupKey(table, 'sk-team-a-0123456789')).toEqual({
      tenant: 'team-a',
      weight: 1,
      maxActiveBatches: null,
      maxInFlight: null,
      webhook: null,
    });
    expect(lookupKey(table, 'sk-team-b-0123456789')).toEqual({
      tenant: 'team-b',
      weight: 2,
      maxActiveBatches: 20,
      maxInFlight: 100,
      webhook: null,
    });
    expect(lookupKey(table, 'sk-team-c-0123456789')?.tenant).toBe('team.c_1');
    // The hash itself is no key, nor is a prefix or a different case.
    expect(lookupKey(table, sha('sk-team-b-0123456789'))).toBeNull();
    expect(lookupKey(table, 'sk-team-a')).toBeNull();
    expect(lookupKey(table, 'SK-TEAM-A-0123456789')).toBeNull();
  });

  it('refuses bad files with one line naming the entry, never the key', () => {
    const cases: [unknown, RegExp][] = [
      ['not json', /not valid JSON/],
      [['team-a'], /must be a JSON object/],
      [{ 'secret-key-1': 'team a' }, /entry #1: a tenant is 1–64 letters/],
      [{ k0: 'ok', 'secret-key-2': { tenant: 'team-b', wieght: 2 } }, /entry #2: 'wieght': /],
      [{ 'secret-key-3': { tenant: 'team-b', weight: -1 } }, /entry #1: 'weight': /],
      [{ 'secret-key-4': { tenant: 'team-b', max_active_batches: 1.5 } }, /entry #1: 'max_active_batches'/],
      [{ 'secret-key-5': { weight: 2 } }, /entry #1: 'tenant'/],
      [{ 'secret-key-6': 7 }, /entry #1: must be a tenant name or/],
      [{ 'secret key 7': 'team-a' }, /entry #1: a key is 1–512 visible ASCII/],
      [{ 'sha256:abc': 'team-a' }, /entry #1: a key is/],
      [
        { 'secret-key-8': 'a', [`sha256:${sha('secret-key-8')}`]: 'b' },
        /entry #2: the same key is listed twice/,
      ],
    ];
    for (const [content, message] of cases) {
      const text = typeof content === 'string' ? content : JSON.stringify(content);
      let error: Error | null = null;
      try {
        parseKeysFile(text);
      } catch (err) {
        error = err as Error;
      }
      expect(error?.message, text).toMatch(message);
      expect(error!.message).not.toContain('\n');
      expect(error!.message).not.toMatch(/secret.key/);
    }
    expect(parseKeysFile('{}').size).toBe(0);
  });

  it('fails to open a bad or missing file with a one-line ConfigError', async () => {
    const log = { info: () => undefined, error: () => undefined };
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"k-123456789": {"tenant": "a", "weight": 0}}');
    await expect(KeyRing.open(bad, log, { watch: false })).rejects.toThrow(
      new ConfigError(
        `invalid configuration: API_KEYS_FILE ${bad}: entry #1: 'weight': Too small: expected number to be >0`,
      ),
    );
    await expect(KeyRing.open(join(dir, 'missing.json'), log, { watch: false })).rejects.toThrow(
      /API_KEYS_FILE .*missing\.json: no such file$/,
    );
  });

  it('reloads on change (also when an editor replaces the file by a rename); a bad file keeps the last keys', async () => {
    const path = join(dir, 'keys.json');
    writeFileSync(path, JSON.stringify({ 'key-one-123456': 'team-a' }));
    const logs: string[] = [];
    const ring = await KeyRing.open(
      path,
      { info: (m) => logs.push(`info ${m}`), error: (m) => logs.push(`error ${m}`) },
      { debounceMs: 30 },
    );
    try {
      expect(ring.lookup('key-one-123456')?.tenant).toBe('team-a');
      // In place.
      writeFileSync(path, JSON.stringify({ 'key-one-123456': 'team-a', 'key-two-123456': 'team-b' }));
      await until(() => ring.lookup('key-two-123456') !== null);
      // As editors save: a temporary file renamed over the original (the old inode is gone).
      const tmp = join(dir, '.keys.json.tmp');
      writeFileSync(tmp, JSON.stringify({ 'key-three-1234': 'team-c' }));
      renameSync(tmp, path);
      await until(() => ring.lookup('key-three-1234') !== null);
      expect(ring.lookup('key-one-123456')).toBeNull();
      // A bad file: logged, the previous keys stay.
      writeFileSync(path, '{"key-three-1234": ');
      await until(() => logs.some((l) => l.startsWith('error')));
      expect(ring.lookup('key-three-1234')?.tenant).toBe('team-c');
      expect(logs.find((l) => l.startsWith('error'))).toMatch(
        /keys\.json: not valid JSON .*; keeping the last good file's 1 key$/,
      );
      // Deleted: the same.
      rmSync(path);
      expect(await ring.reload()).toBe(false);
      expect(ring.lookup('key-three-1234')?.tenant).toBe('team-c');
      // And back.
      writeFileSync(path, JSON.stringify({ 'key-four-12345': 'team-d' }));
      await until(() => ring.lookup('key-four-12345') !== null);
      expect(logs.some((l) => l.startsWith('info') && l.includes('reloaded, 1 key'))).toBe(true);
      expect(logs.join('\n')).not.toMatch(/key-(one|two|three|four)/);
    } finally {
      ring.close();
    }
  });
});

describe('auth settings', () => {
  it('picks the mode and refuses contradictions', () => {
    expect(authSettingsOf({})).toEqual({ mode: 'none' });
    expect(authSettingsOf({ API_KEYS_FILE: '/k.json' })).toEqual({ mode: 'keys', file: '/k.json' });
    expect(authSettingsOf({ AUTH_MODE: 'trusted-header', TENANT_HEADER: 'x-forwarded-tenant' })).toEqual({
      mode: 'trusted-header',
      header: 'x-forwarded-tenant',
    });
    expect(() => authSettingsOf({ AUTH_MODE: 'keys' })).toThrow(/AUTH_MODE=keys needs API_KEYS_FILE/);
    expect(() => authSettingsOf({ AUTH_MODE: 'trusted-header' })).toThrow(/needs TENANT_HEADER/);
    expect(() => authSettingsOf({ AUTH_MODE: 'none', API_KEYS_FILE: '/k.json' })).toThrow(
      /API_KEYS_FILE is set but AUTH_MODE=none/,
    );
  });

  it('binds a non-loopback HOST without authentication only when allowed', () => {
    for (const h of ['127.0.0.1', '127.0.0.53', 'localhost', '::1', '[::1]'])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'api.internal']) expect(isLoopback(h), h).toBe(false);
    const none = { mode: 'none' } as const;
    expect(() => checkExposure(none, { HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: false })).toThrow(
      /refusing to listen on HOST=0\.0\.0\.0 without authentication/,
    );
    expect(() => checkExposure(none, { HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: true })).not.toThrow();
    expect(() =>
      checkExposure({ mode: 'keys', file: 'k' }, { HOST: '0.0.0.0', ALLOW_UNAUTHENTICATED: false }),
    ).not.toThrow();
  });
});
