// Test certificates made with the openssl CLI: a CA, a server certificate it signs, client certificates for mTLS.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

export interface CertificateAuthority {
  /** PEM file of the CA certificate (what clients and servers trust). */
  cert: string;
  key: string;
  dir: string;
  name: string;
}

export interface KeyPair {
  cert: string;
  key: string;
}

// P-256 keys: generated in milliseconds, accepted by Go's TLS, rustls (the Node SDK's core) and Node.
const keyArgs = (out: string) => [
  'genpkey',
  '-algorithm',
  'EC',
  '-pkeyopt',
  'ec_paramgen_curve:P-256',
  '-out',
  out,
];

/** A self-signed CA named `name`, its files in `dir` as `<name>-ca.pem` / `<name>-ca.key`. */
export async function createCa(dir: string, name: string): Promise<CertificateAuthority> {
  const key = join(dir, `${name}-ca.key`);
  const cert = join(dir, `${name}-ca.pem`);
  await openssl(keyArgs(key));
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    key,
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${name} test CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key, dir, name };
}

/**
 * A leaf certificate signed by `ca`: `usage` serverAuth (with `dnsNames` as subject alternative
 * names) or clientAuth (the common name identifies the client).
 */
export async function issueCertificate(
  ca: CertificateAuthority,
  name: string,
  usage: 'serverAuth' | 'clientAuth',
  dnsNames: string[] = [],
): Promise<KeyPair> {
  const key = join(ca.dir, `${name}.key`);
  const csr = join(ca.dir, `${name}.csr`);
  const cert = join(ca.dir, `${name}.pem`);
  const ext = join(ca.dir, `${name}.ext`);
  await openssl(keyArgs(key));
  await openssl(['req', '-new', '-key', key, '-out', csr, '-subj', `/CN=${name}`]);
  const lines = [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${usage}`,
  ];
  if (dnsNames.length) lines.push(`subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}`);
  await writeFile(ext, `${lines.join('\n')}\n`);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    // A random serial: certificates issued in parallel share no serial file.
    '-set_serial',
    `0x${randomBytes(16).toString('hex')}`,
    '-out',
    cert,
    '-days',
    '30',
    '-extfile',
    ext,
  ]);
  return { cert, key };
}
