// The webhook settings: WEBHOOK_URL / WEBHOOK_SECRET at start-up, the keys file's per-tenant
// webhook_url / webhook_secret, and the retry schedule.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lookupKey, parseKeysFile } from '../../src/api/auth/api-keys';
import { ConfigError, loadConfig } from '../../src/config';
import { nextAttemptDelay, pastSchedule } from '../../src/webhooks/schedule';

const secret = (bytes = 32) => `whsec_${randomBytes(bytes).toString('base64')}`;
const problem = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the configuration was accepted');
};

describe('WEBHOOK_URL and WEBHOOK_SECRET', () => {
  it('are accepted together', () => {
    const s = secret();
    const config = loadConfig({ WEBHOOK_URL: 'https://hooks.example.com/batches', WEBHOOK_SECRET: s });
    expect(config.WEBHOOK_URL).toBe('https://hooks.example.com/batches');
    expect(config.WEBHOOK_SECRET).toBe(s);
    expect(config.WEBHOOK_RETRY_INITIAL_MS).toBe(5000);
    expect(config.WEBHOOK_RETRY_MAX_MS).toBe(3_600_000);
    expect(config.WEBHOOK_RETRY_FOR_MS).toBe(72 * 3_600_000);
    expect(config.WEBHOOK_TIMEOUT_MS).toBe(15_000);
  });

  it.each([
    ['no whsec_ prefix', randomBytes(32).toString('base64')],
    ['not base64', 'whsec_not*base64!'],
    ['shorter than 24 bytes', secret(16)],
    ['longer than 64 bytes', secret(65)],
    ['empty after the prefix', 'whsec_'],
  ])('a bad secret (%s) is one line naming WEBHOOK_SECRET, never repeating it', (_what, bad) => {
    const message = problem({ WEBHOOK_URL: 'https://hooks.example.com/', WEBHOOK_SECRET: bad });
    expect(message).toMatch(/^invalid configuration: WEBHOOK_SECRET: must be whsec_/);
    expect(message).not.toContain('\n');
    if (bad.length > 'whsec_'.length) expect(message).not.toContain(bad);
  });

  it('one without the other is refused', () => {
    expect(problem({ WEBHOOK_URL: 'https://hooks.example.com/' })).toBe(
      'invalid configuration: WEBHOOK_SECRET: must be set with WEBHOOK_URL',
    );
    expect(problem({ WEBHOOK_SECRET: secret() })).toBe(
      'invalid configuration: WEBHOOK_URL: must be set with WEBHOOK_SECRET',
    );
  });

  it('a URL that is not http(s) is refused', () => {
    expect(problem({ WEBHOOK_URL: 'ftp://hooks.example.com/', WEBHOOK_SECRET: secret() })).toMatch(
      /^invalid configuration: WEBHOOK_URL: must be an http/,
    );
  });
});

describe('per-tenant webhooks in the keys file', () => {
  const url = 'https://hooks.example.com/constructor';

  it('belong to the tenant: every key of it, string entries included, gets the webhook', () => {
    const s = secret();
    const table = parseKeysFile(
      JSON.stringify({
        k1: { tenant: 'constructor', webhook_url: url, webhook_secret: s },
        k2: 'constructor',
        k3: { tenant: 'constructor', weight: 2 },
        k4: 'toString',
      }),
    );
    for (const key of ['k1', 'k2', 'k3']) expect(lookupKey(table, key)?.webhook).toEqual({ url, secret: s });
    expect(lookupKey(table, 'k4')?.webhook).toBeNull();
  });

  it('two keys of a tenant that disagree reject the file in one line, without the secrets', () => {
    const [a, b] = [secret(), secret()];
    const text = JSON.stringify({
      k1: { tenant: 'team', webhook_url: url, webhook_secret: a },
      k2: { tenant: 'team', webhook_url: url, webhook_secret: b },
    });
    expect(() => parseKeysFile(text)).toThrow(
      "entry #2: tenant 'team' has another webhook_url or webhook_secret in entry #1 (a webhook is per tenant)",
    );
    const other = JSON.stringify({
      k1: { tenant: 'team', webhook_url: url, webhook_secret: a },
      k2: { tenant: 'team', webhook_url: `${url}/2`, webhook_secret: a },
    });
    expect(() => parseKeysFile(other)).toThrow(/^entry #2: tenant 'team' has another webhook_url/);
  });

  it('a url without its secret, or a bad secret, is refused naming the field', () => {
    expect(() => parseKeysFile(JSON.stringify({ k: { tenant: 't', webhook_url: url } }))).toThrow(
      "entry #1: 'webhook_url': webhook_url and webhook_secret go together",
    );
    const bad = 'whsec_c2hvcnQ=';
    let message = '';
    try {
      parseKeysFile(JSON.stringify({ k: { tenant: 't', webhook_url: url, webhook_secret: bad } }));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^entry #1: 'webhook_secret': must be whsec_/);
    expect(message).not.toContain(bad);
  });
});

describe('the retry schedule', () => {
  const schedule = { initialMs: 5000, maxMs: 3_600_000, forMs: 72 * 3_600_000 };
  const middle = () => 0.5;

  it('doubles from the initial wait up to the maximum, with at most 20 % jitter', () => {
    expect([1, 2, 3, 4].map((n) => nextAttemptDelay(n, schedule, null, middle))).toEqual([
      5000, 10_000, 20_000, 40_000,
    ]);
    expect(nextAttemptDelay(11, schedule, null, middle)).toBe(3_600_000);
    expect(nextAttemptDelay(500, schedule, null, middle)).toBe(3_600_000);
    expect(nextAttemptDelay(1, schedule, null, () => 0)).toBe(4000);
    expect(nextAttemptDelay(1, schedule, null, () => 0.999_999)).toBe(6000);
    expect(nextAttemptDelay(20, schedule, null, () => 0.999_999)).toBe(3_600_000);
  });

  it('honours a longer Retry-After, never past the maximum', () => {
    expect(nextAttemptDelay(1, schedule, 60_000, middle)).toBe(60_000);
    expect(nextAttemptDelay(4, schedule, 1000, middle)).toBe(40_000);
    expect(nextAttemptDelay(1, schedule, 86_400_000, middle)).toBe(3_600_000);
  });

  it('gives up once the next attempt would start past WEBHOOK_RETRY_FOR_MS; ~80 attempts in 72 h', () => {
    expect(pastSchedule(0, 5000, schedule)).toBe(false);
    expect(pastSchedule(schedule.forMs - 1000, 5000, schedule)).toBe(true);
    let elapsed = 0;
    let attempts = 1;
    while (!pastSchedule(elapsed, nextAttemptDelay(attempts, schedule, null, middle), schedule)) {
      elapsed += nextAttemptDelay(attempts, schedule, null, middle);
      attempts++;
    }
    expect(attempts).toBeGreaterThan(70);
    expect(attempts).toBeLessThan(90);
  });
});
