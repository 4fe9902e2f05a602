// How every process reaches Temporal: address, TLS / mTLS and API key from the TEMPORAL_* settings, one place for all connections.
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError, type Config } from '../config';

export type TemporalConnectionConfig = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CERT'
  | 'TEMPORAL_TLS_KEY'
  | 'TEMPORAL_TLS_CA'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/**
 * Options both `Connection.connect/lazy` (@temporalio/client) and `NativeConnection.connect`
 * (@temporalio/worker) accept as they are.
 */
export interface TemporalConnectionOptions {
  address: string;
  /** TLS settings; `false` only when an API key travels without TLS (TEMPORAL_TLS=false). */
  tls?: TLSConfig | false;
  /** Sent as `Authorization: Bearer <key>` on every call, as Temporal Cloud expects. */
  apiKey?: string;
}

/** A PEM file named by a setting; a missing, unreadable or non-PEM file is one ConfigError line. */
function readPem(setting: string, path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(`${setting}: cannot read ${path} (${code})`);
  }
  if (!data.includes('-----BEGIN ')) throw new ConfigError(`${setting}: ${path} is not a PEM file`);
  return data;
}

/**
 * TLS is on when TEMPORAL_TLS=true or any other TLS setting or an API key is set, unless
 * TEMPORAL_TLS=false (the temporal CLI's rule). Reads the certificate files now, so a bad path
 * fails at start, not at the first call.
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca } = config;
  const serverName = config.TEMPORAL_TLS_SERVER_NAME;
  const apiKey = config.TEMPORAL_API_KEY;
  if (!!cert !== !!key)
    throw new ConfigError(
      `${cert ? 'TEMPORAL_TLS_CERT' : 'TEMPORAL_TLS_KEY'} is set without ${cert ? 'TEMPORAL_TLS_KEY' : 'TEMPORAL_TLS_CERT'}: a client certificate needs both`,
    );
  const tlsSettings = !!(cert || ca || serverName);
  if (config.TEMPORAL_TLS === false && tlsSettings)
    throw new ConfigError(
      'TEMPORAL_TLS=false contradicts TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY/TEMPORAL_TLS_CA/TEMPORAL_TLS_SERVER_NAME',
    );
  const options: TemporalConnectionOptions = { address: config.TEMPORAL_ADDRESS };
  if (apiKey) options.apiKey = apiKey;
  const useTls = config.TEMPORAL_TLS ?? (tlsSettings || !!apiKey);
  if (!useTls) {
    // The SDK turns TLS on by itself for an API key; TEMPORAL_TLS=false is the way to refuse it.
    if (apiKey) options.tls = false;
    return options;
  }
  const tls: TLSConfig = {};
  if (ca) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_CA', ca);
  if (cert && key)
    tls.clientCertPair = { crt: readPem('TEMPORAL_TLS_CERT', cert), key: readPem('TEMPORAL_TLS_KEY', key) };
  if (serverName) tls.serverNameOverride = serverName;
  options.tls = tls;
  return options;
}

/** How a process connects, for its start line: `127.0.0.1:7233 (mTLS, API key)`; never a secret. */
export function describeTemporalConnection(options: TemporalConnectionOptions): string {
  const parts: string[] = [];
  if (options.tls) {
    parts.push(options.tls.clientCertPair ? 'mTLS' : 'TLS');
    if (options.tls.serverRootCACertificate) parts.push('own CA');
    if (options.tls.serverNameOverride) parts.push(`server name ${options.tls.serverNameOverride}`);
  }
  if (options.apiKey) parts.push('API key');
  return parts.length ? `${options.address} (${parts.join(', ')})` : options.address;
}

/** What a TLS or authentication failure means for the settings, by the words the SDK's errors carry. */
const HINTS: [RegExp, (o: TemporalConnectionOptions) => string][] = [
  [
    /CertificateRequired|certificate required/i,
    () => 'the server requires a client certificate (mTLS): set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
  ],
  [
    /UnknownIssuer|unable to get local issuer|unable to verify|self[- ]signed certificate/i,
    (o) =>
      o.tls && o.tls.serverRootCACertificate
        ? "the server's certificate is not signed by the CA in TEMPORAL_TLS_CA"
        : "the server's certificate is not signed by a CA this system trusts: set TEMPORAL_TLS_CA",
  ],
  [
    /NotValidForName|does not match|altnames/i,
    () =>
      "the server's certificate does not carry this host name: set TEMPORAL_TLS_SERVER_NAME to a name it does",
  ],
  [
    /BadCertificate|UnknownCA|unknown ca|bad certificate|certificate unknown/i,
    () => 'the server refused the client certificate (TEMPORAL_TLS_CERT): not signed by a CA it trusts',
  ],
  [
    /InvalidContentType|wrong version number|packet length too long|CorruptMessage/i,
    () => 'the server does not speak TLS: unset TEMPORAL_TLS* (or set TEMPORAL_TLS=false)',
  ],
  [
    // Under TLS 1.3 a server that wants a client certificate may just close the connection.
    /broken pipe|connection reset|connection closed|operation was cancel/i,
    (o) =>
      !o.tls
        ? 'the server closed the connection: if it expects TLS, set TEMPORAL_TLS=true (and TEMPORAL_TLS_CA)'
        : o.tls.clientCertPair
          ? 'the server closed the TLS connection: it may not trust the client certificate (TEMPORAL_TLS_CERT)'
          : 'the server closed the TLS connection: if it requires a client certificate (mTLS), set TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY',
  ],
  [
    /unauthenticated|unauthorized|permission ?denied|token is (expired|malformed|unverifiable)|signature is invalid/i,
    (o) =>
      o.apiKey
        ? 'the server refused the API key (TEMPORAL_API_KEY): invalid, expired or without permission'
        : 'the server requires authentication: set TEMPORAL_API_KEY',
  ],
];

/**
 * A failed first connection as one ConfigError line when the settings explain it (TLS, mTLS,
 * server name, API key); any other error (the server is down…) is returned as it was.
 */
export function explainConnectError(
  err: unknown,
  options: TemporalConnectionOptions,
  namespace?: string,
): unknown {
  const message = err instanceof Error ? err.message : String(err);
  const text = /namespace .*not found/i.test(message)
    ? `namespace '${namespace}' does not exist there: create it (temporal operator namespace create) or set TEMPORAL_NAMESPACE`
    : HINTS.find(([pattern]) => pattern.test(message))?.[1](options);
  if (!text) return err;
  return new ConfigError(
    `cannot connect to Temporal at ${describeTemporalConnection(options)}: ${text} (${message.replace(/\s+/g, ' ').slice(0, 300)})`,
  );
}
