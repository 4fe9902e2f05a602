// The TEMPORAL_* settings → the options every Temporal connection is made with (TLS, mTLS, server name, API key).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';
import {
  describeTemporalConnection,
  explainConnectError,
  temporalConnectionOptions,
} from '../../src/temporal/connection';

const dir = mkdtempSync(join(tmpdir(), 'batchgw-conn-'));
const pem = (name: string, body: string) => {
  const p = join(dir, name);
  writeFileSync(p, `-----BEGIN ${body}-----\nAAAA\n-----END ${body}-----\n`);
  return p;
};
const ca = pem('ca.pem', 'CERTIFICATE');
const cert = pem('client.pem', 'CERTIFICATE');
const key = pem('client.key', 'PRIVATE KEY');
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const optionsOf = (env: Record<string, string>) =>
  temporalConnectionOptions(loadConfig({ TEMPORAL_ADDRESS: 'temporal.example:7233', ...env }));

describe('temporalConnectionOptions', () => {
  it('plaintext when nothing says otherwise', () => {
    expect(optionsOf({})).toEqual({ address: 'temporal.example:7233' });
  });

  it('TEMPORAL_TLS=true: TLS with the system roots', () => {
    expect(optionsOf({ TEMPORAL_TLS: 'true' })).toEqual({ address: 'temporal.example:7233', tls: {} });
  });

  it('mTLS: the CA, the client pair and the server name, read from their files', () => {
    const o = optionsOf({
      TEMPORAL_TLS_CA: ca,
      TEMPORAL_TLS_CERT: cert,
      TEMPORAL_TLS_KEY: key,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(o.tls).toBeTruthy();
    if (!o.tls) return;
    expect(o.tls.serverNameOverride).toBe('frontend.internal');
    expect(Buffer.from(o.tls.serverRootCACertificate ?? []).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(o.tls.clientCertPair?.key ?? []).toString()).toContain('BEGIN PRIVATE KEY');
    expect(describeTemporalConnection(o)).toBe(
      'temporal.example:7233 (mTLS, own CA, server name frontend.internal)',
    );
  });

  it('any TLS setting implies TLS', () => {
    expect(optionsOf({ TEMPORAL_TLS_SERVER_NAME: 'x.internal' }).tls).toEqual({
      serverNameOverride: 'x.internal',
    });
  });

  it('an API key implies TLS; TEMPORAL_TLS=false sends it in the clear', () => {
    expect(optionsOf({ TEMPORAL_API_KEY: 'k' })).toEqual({
      address: 'temporal.example:7233',
      apiKey: 'k',
      tls: {},
    });
    expect(optionsOf({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).toEqual({
      address: 'temporal.example:7233',
      apiKey: 'k',
      tls: false,
    });
    expect(describeTemporalConnection(optionsOf({ TEMPORAL_API_KEY: 'secret' }))).not.toContain('secret');
  });

  it.each([
    [{ TEMPORAL_TLS_CERT: cert }, /TEMPORAL_TLS_CERT is set without TEMPORAL_TLS_KEY/],
    [{ TEMPORAL_TLS_KEY: key }, /TEMPORAL_TLS_KEY is set without TEMPORAL_TLS_CERT/],
    [{ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: ca }, /TEMPORAL_TLS=false contradicts/],
    [
      { TEMPORAL_TLS_CA: join(dir, 'missing.pem') },
      /^TEMPORAL_TLS_CA: cannot read .*missing\.pem \(ENOENT\)$/,
    ],
    [{ TEMPORAL_TLS_CERT: dir, TEMPORAL_TLS_KEY: key }, /^TEMPORAL_TLS_CERT: cannot read .* \(EISDIR\)$/],
    [{ TEMPORAL_TLS_CA: notPem }, /^TEMPORAL_TLS_CA: .*not\.pem is not a PEM file$/],
  ])('%o is one ConfigError line', (env, message) => {
    let error: unknown;
    try {
      optionsOf(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });

  it('TEMPORAL_TLS takes the usual boolean spellings and nothing else', () => {
    expect(optionsOf({ TEMPORAL_TLS: 'on' }).tls).toEqual({});
    expect(() => optionsOf({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS/);
  });
});

describe('explainConnectError', () => {
  const mtls = optionsOf({ TEMPORAL_TLS_CA: ca, TEMPORAL_TLS_SERVER_NAME: 'n' });
  // The messages the Node SDK's native connection gave against the real server (test/cluster/temporal-tls.test.ts).
  it.each([
    ['received fatal alert: CertificateRequired', /requires a client certificate .*TEMPORAL_TLS_CERT/],
    ['InvalidCertificate(UnknownIssuer)', /not signed by the CA in TEMPORAL_TLS_CA/],
    ['InvalidCertificate(NotValidForNameContext { expected: …', /set TEMPORAL_TLS_SERVER_NAME/],
  ])('%s names the setting to fix', (message, hint) => {
    const explained = explainConnectError(new Error(message), mtls);
    expect(explained).toBeInstanceOf(ConfigError);
    expect((explained as Error).message).toMatch(hint);
    expect((explained as Error).message).toContain(
      'cannot connect to Temporal at temporal.example:7233 (TLS',
    );
  });

  it('other failures stay as they were', () => {
    const err = new Error('Connection refused (os error 111)');
    expect(explainConnectError(err, mtls)).toBe(err);
  });
});
