// The real Temporal server (1.29.1, built by npm run setup) on its own PostgreSQL, optionally with TLS, mTLS and API keys (JWT).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from '@temporalio/client';
import { loadConfig } from '../../src/config';
import { findTemporalCli, TOOLS_CACHE_BIN } from '../../src/temporal/cli-path';
import { temporalConnectionOptions } from '../../src/temporal/connection';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions';
import { createCa, issueCertificate, type CertificateAuthority, type KeyPair } from './tls-certs';

const execFileP = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = '1.29.1';
/** The name in the server's certificate (not the address's host: TEMPORAL_TLS_SERVER_NAME is needed and so tested). */
export const CLUSTER_SERVER_NAME = 'temporal.cluster.test';

export interface TemporalClusterOptions {
  /** none: plaintext; tls: server certificate from a test CA; mtls: clients must present a certificate of that CA. */
  tls?: 'none' | 'tls' | 'mtls';
  /** Namespace to create (default `default`). */
  namespace?: string;
  /**
   * The server's default JWT authorizer and claim mapper, keys from a JWKS this harness serves:
   * every call needs `Authorization: Bearer <JWT>` (TEMPORAL_API_KEY). The server's own workers use
   * an internal-frontend without authorization.
   */
  apiKeys?: boolean;
}

export interface ClusterTlsFiles {
  ca: CertificateAuthority;
  serverName: string;
  /** The client certificate the harness issues (mTLS); any clientAuth certificate of `ca` works. */
  client: KeyPair;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  /** The TEMPORAL_* variables a worker, the API and the temporal CLI need (TLS paths, API key). */
  env: Record<string, string>;
  /** The same, for @temporalio/client `Connection.connect` (and `NativeConnection.connect`). */
  connectionOptions: ConnectionOptions;
  tls?: ClusterTlsFiles;
  /** With `apiKeys`: a JWT the server accepts, with these permissions (e.g. `default:admin`). */
  signApiKey?: (permissions: string[], opts?: { subject?: string; expiresInS?: number }) => string;
  /** Milliseconds from the call to a namespace with its search attributes. */
  startupMs: number;
  /** Where that time went (ms): PostgreSQL + certificates, schemas, server healthy, namespace + search attributes. */
  phasesMs: { postgres: number; schemas: number; server: number; namespace: number };
  /** The server's last output lines (for failure messages). */
  serverLog(): string;
  close(): Promise<void>;
}

interface Tools {
  server: string;
  sql: string;
  pgBin: string;
  schemaDir: string;
  cli: string;
}

/** The server, its sql tool, PostgreSQL and the schema folders, or one error saying what is missing. */
export function findClusterTools(): Tools {
  const bin =
    process.env.TEMPORAL_SERVER_BIN_DIR ??
    join(dirname(TOOLS_CACHE_BIN), `temporal-server-${TEMPORAL_SERVER_VERSION}`, 'bin');
  const server = join(bin, 'server');
  const sql = join(bin, 'sql');
  const missing: string[] = [];
  if (!existsSync(server) || !existsSync(sql)) missing.push(`the Temporal server and sql tool (${bin})`);
  const pgBin = findPostgresBin();
  if (!pgBin) missing.push('PostgreSQL (initdb and postgres under /usr/lib/postgresql/*/bin or on PATH)');
  const schemaDir = join(
    goModCache(),
    `go.temporal.io/server@v${TEMPORAL_SERVER_VERSION}`,
    'schema/postgresql/v12',
  );
  if (!existsSync(schemaDir)) missing.push(`the PostgreSQL schemas (${schemaDir})`);
  const cli = findTemporalCli();
  if (!cli) missing.push('the temporal CLI');
  if (missing.length || !pgBin || !cli)
    throw new Error(`cannot start a Temporal cluster: missing ${missing.join(', ')}: run \`npm run setup\``);
  return { server, sql, pgBin, schemaDir, cli };
}

function findPostgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return join(root, versions[0], 'bin');
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'postgres'))) return dir;
  return null;
}

function goModCache(): string {
  try {
    return execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).trim();
  } catch {
    return join(process.env.GOPATH ?? join(homedir(), 'go'), 'pkg', 'mod');
  }
}

/**
 * Distinct free ports below 32768: the server keeps membership ports in a PostgreSQL smallint,
 * so the kernel's ephemeral range (what freePort hands out) does not fit.
 */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (!ports.has(port) && (await canBind(port))) ports.add(port);
  }
  return [...ports];
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createNetServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A child process whose output is kept (the tail) and which can be stopped by one signal. */
function startProcess(
  cmd: string,
  args: string[],
  opts: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; cwd?: string },
) {
  const child: ChildProcess = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer) => {
    out = (out + d.toString()).slice(-64 * 1024);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    output: () => out,
    gone,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (gone()) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
type Running = ReturnType<typeof startProcess>;

/** Retries `attempt` until it returns true; `exited` says the process to wait for is gone (no point waiting). */
async function waitFor(
  what: string,
  deadlineMs: number,
  attempt: () => Promise<boolean>,
  proc: Pick<Running, 'gone' | 'output'>,
) {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  for (;;) {
    if (proc.gone()) throw new Error(`${what}: the process exited\n${proc.output().slice(-3000)}`);
    try {
      if (await attempt()) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(
        `${what} not ready within ${deadlineMs / 1000} s: ${last}\n${proc.output().slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** PostgreSQL in `dir` on `port`: a superuser `temporal` with a password, scram auth on 127.0.0.1. */
async function startPostgres(
  tools: Tools,
  dir: string,
  port: number,
  password: string,
  cleanups: (() => Promise<void>)[],
): Promise<Running> {
  const asRoot = process.getuid?.() === 0;
  // initdb refuses to run as root: the cluster belongs to the postgres user then.
  const owner = asRoot ? postgresUser() : {};
  mkdirSync(dir, { mode: 0o700 });
  const pwFile = join(dir, 'pw');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner.uid !== undefined && owner.gid !== undefined) {
    chownSync(dir, owner.uid, owner.gid);
    chownSync(pwFile, owner.uid, owner.gid);
  }
  const data = join(dir, 'data');
  try {
    await execFileP(
      join(tools.pgBin, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'temporal',
        `--pwfile=${pwFile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
      ],
      { ...owner, env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb failed: ${(e.stderr ?? e.message).trim()}`);
  }
  rmSync(pwFile);
  const pg = startProcess(
    join(tools.pgBin, 'postgres'),
    [
      '-D',
      data,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'max_connections=200',
      // A throwaway database for tests: durability on power loss is not wanted, speed is.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    owner,
  );
  cleanups.push(() => pg.stop('SIGINT')); // SIGINT: PostgreSQL's fast shutdown
  await waitFor('PostgreSQL', 30_000, async () => /ready to accept connections/.test(pg.output()), pg);
  return pg;
}

function postgresUser(): { uid?: number; gid?: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root, but there is no `postgres` user to own the PostgreSQL cluster (initdb refuses root)',
    );
  }
}

/** `temporal` and `temporal_visibility`: create-database, setup-schema -v 0.0, update-schema to the latest version. */
async function createSchemas(tools: Tools, port: number, password: string): Promise<void> {
  const base = [
    '--pl',
    'postgres12',
    '--ep',
    '127.0.0.1',
    '-p',
    String(port),
    '-u',
    'temporal',
    '--pw',
    password,
  ];
  const sql = async (args: string[]) => {
    try {
      await execFileP(tools.sql, [...base, ...args]);
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message: string };
      throw new Error(
        `sql ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim().slice(-2000)}`,
      );
    }
  };
  await Promise.all(
    [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ].map(async ([db, schema]) => {
      await sql(['--db', db, 'create-database']);
      await sql(['--db', db, 'setup-schema', '-v', '0.0']);
      await sql(['--db', db, 'update-schema', '-d', join(tools.schemaDir, schema, 'versioned')]);
    }),
  );
}

/** ES256 JWTs and the JWKS that verifies them, served over HTTP for the server's JWT key provider. */
async function startJwtIssuer(): Promise<{
  jwksUrl: string;
  sign: (permissions: string[], opts?: { subject?: string; expiresInS?: number }) => string;
  close(): Promise<void>;
}> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = randomBytes(8).toString('hex');
  const jwks = JSON.stringify({
    keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }],
  });
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(jwks);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    jwksUrl: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    sign: (permissions, opts = {}) => signJwt(privateKey, kid, permissions, opts),
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

const b64url = (v: Buffer | string) => Buffer.from(v).toString('base64url');

function signJwt(
  key: KeyObject,
  kid: string,
  permissions: string[],
  opts: { subject?: string; expiresInS?: number },
): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
  const payload = b64url(
    JSON.stringify({
      sub: opts.subject ?? 'batch-gateway-test',
      permissions,
      iat: now,
      exp: now + (opts.expiresInS ?? 3600),
    }),
  );
  // JWS ES256 signatures are r||s (IEEE P1363), not DER.
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key, dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${b64url(signature)}`;
}

/** A JWT signed by some other key (the server must refuse it). */
export function foreignJwt(permissions: string[]): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return signJwt(privateKey, 'foreign', permissions, {});
}

/** Runs the temporal CLI with `env` (and nothing else saying how to connect); resolves its stdout. */
export async function temporalCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<string> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('the temporal CLI was not found: run `npm run setup`');
  // Only the given TEMPORAL_* settings: none leaking in from the test's own environment.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  try {
    const { stdout } = await execFileP(cli, args, { env: { ...base, ...env }, timeout: timeoutMs });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`temporal ${args.join(' ')}: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** Starts PostgreSQL and the Temporal server in a temp folder; see TemporalClusterOptions. */
export async function startTemporalCluster(opts: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const t0 = Date.now();
  const tlsMode = opts.tls ?? 'none';
  const namespace = opts.namespace ?? 'default';
  const tools = findClusterTools();
  const root = mkdtempSync(join(tmpdir(), 'batchgw-cluster-'));
  chmodSync(root, 0o755); // the postgres user must reach its folder inside
  const cleanups: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const [pgPort, fe, feMember, feHttp, hi, hiMember, ma, maMember, wo, woMember, ife, ifeMember, ifeHttp] =
      await freePorts(13);
    const password = randomBytes(12).toString('hex');

    const tlsDir = join(root, 'tls');
    mkdirSync(tlsDir, { mode: 0o700 });
    // Each part registers its cleanup as soon as it runs, so a failure elsewhere leaves nothing behind.
    const [, tls, jwt] = await Promise.all([
      startPostgres(tools, join(root, 'pg'), pgPort, password, cleanups),
      tlsMode === 'none' ? undefined : makeClusterCerts(tlsDir),
      opts.apiKeys
        ? startJwtIssuer().then((issuer) => {
            cleanups.push(() => issuer.close());
            return issuer;
          })
        : undefined,
    ]);
    const tPostgres = Date.now();
    await createSchemas(tools, pgPort, password);
    const tSchemas = Date.now();

    const configDir = join(root, 'config');
    mkdirSync(configDir);
    const address = `127.0.0.1:${fe}`;
    const store = (db: string, maxConns: number) => ({
      sql: {
        pluginName: 'postgres12',
        databaseName: db,
        connectAddr: `127.0.0.1:${pgPort}`,
        connectProtocol: 'tcp',
        user: 'temporal',
        password,
        maxConns,
        maxIdleConns: maxConns,
        maxConnLifetime: '1h',
      },
    });
    const rpc = (grpcPort: number, membershipPort: number, httpPort?: number) => ({
      rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...(httpPort ? { httpPort } : {}) },
    });
    const services: Record<string, unknown> = {
      frontend: rpc(fe, feMember, feHttp),
      history: rpc(hi, hiMember),
      matching: rpc(ma, maMember),
      worker: rpc(wo, woMember),
    };
    // With authorization on, the server's own workers (schedules, deletions…) go through an
    // internal frontend that trusts them, as the server's config documentation recommends.
    if (opts.apiKeys) services['internal-frontend'] = rpc(ife, ifeMember, ifeHttp);
    const clientTls = tls && { serverName: tls.serverName, rootCaFiles: [tls.ca.cert] };
    const config = {
      log: { stdout: true, level: 'warn' },
      persistence: {
        defaultStore: 'default',
        visibilityStore: 'visibility',
        numHistoryShards: 4,
        datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 10) },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
        ...(tls && {
          tls: {
            frontend: {
              server: {
                certFile: tls.server.cert,
                keyFile: tls.server.key,
                ...(tlsMode === 'mtls' && { requireClientAuth: true, clientCaFiles: [tls.ca.cert] }),
              },
              client: clientTls,
            },
            // The server's own workers dial the frontend like any client: they verify it, and
            // under mTLS present a certificate of their own.
            systemWorker: {
              ...(tlsMode === 'mtls' && { certFile: tls.systemWorker.cert, keyFile: tls.systemWorker.key }),
              client: clientTls,
            },
          },
        }),
        ...(jwt && {
          authorization: {
            jwtKeyProvider: { keySourceURIs: [jwt.jwksUrl], refreshInterval: '1m' },
            permissionsClaimName: 'permissions',
            authorizer: 'default',
            claimMapper: 'default',
          },
        }),
      },
      services,
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: {
          active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: address },
        },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
      namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
      dynamicConfigClient: { filepath: join(configDir, 'dynamic.yaml'), pollInterval: '10s' },
    };
    const dynamic = {
      // Search attributes registered a moment ago are usable at once (as on the dev server).
      'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }],
      'system.enableNexus': [{ value: true, constraints: {} }],
      'component.nexusoperations.callback.endpoint.template': [
        { value: `http://127.0.0.1:${feHttp}/namespaces/{{.NamespaceName}}/nexus/callback`, constraints: {} },
      ],
      'component.callbacks.allowedAddresses': [
        { value: [{ Pattern: '*', AllowInsecure: true }], constraints: {} },
      ],
    };
    // YAML is a superset of JSON: the server reads these as they are.
    writeFileSync(join(configDir, 'cluster.yaml'), JSON.stringify(config, null, 2));
    writeFileSync(join(configDir, 'dynamic.yaml'), JSON.stringify(dynamic, null, 2));

    const svcArgs = Object.keys(services).flatMap((s) => ['--service', s]);
    const server = startProcess(
      tools.server,
      ['--root', root, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start', ...svcArgs],
      { cwd: root },
    );
    cleanups.push(() => server.stop('SIGTERM'));

    const env: Record<string, string> = { TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace };
    if (tls) {
      env.TEMPORAL_TLS_CA = tls.ca.cert;
      env.TEMPORAL_TLS_SERVER_NAME = tls.serverName;
      if (tlsMode === 'mtls') {
        env.TEMPORAL_TLS_CERT = tls.client.cert;
        env.TEMPORAL_TLS_KEY = tls.client.key;
      }
    }
    if (jwt) {
      env.TEMPORAL_API_KEY = jwt.sign([`${namespace}:admin`, 'temporal-system:admin']);
      // An API key alone would turn TLS on; without TLS it travels in the clear, as asked.
      if (!tls) env.TEMPORAL_TLS = 'false';
    }

    await waitFor(
      'the Temporal server',
      60_000,
      async () => /SERVING/.test(await temporalCli(['operator', 'cluster', 'health'], env, 5_000)),
      server,
    );
    const tServer = Date.now();
    await temporalCli(
      ['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h'],
      env,
    );
    // One name per call: given several --name, the CLI (1.5.1) registers only the first.
    // A namespace just created is unknown to the frontend until its namespace cache refreshes (~2 s).
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES))
      await waitFor(
        `search attribute ${name}`,
        30_000,
        async () => {
          await temporalCli(
            [
              'operator',
              'search-attribute',
              'create',
              '--namespace',
              namespace,
              '--type',
              type,
              '--name',
              name,
            ],
            env,
          );
          return true;
        },
        server,
      );

    const connectionOptions = temporalConnectionOptions(loadConfig(env)) as ConnectionOptions;
    return {
      address,
      namespace,
      env,
      connectionOptions,
      tls: tls && { ca: tls.ca, serverName: tls.serverName, client: tls.client },
      signApiKey: jwt?.sign,
      startupMs: Date.now() - t0,
      phasesMs: {
        postgres: tPostgres - t0,
        schemas: tSchemas - tPostgres,
        server: tServer - tSchemas,
        namespace: Date.now() - tServer,
      },
      serverLog: server.output,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function makeClusterCerts(dir: string) {
  const ca = await createCa(dir, 'cluster');
  const [server, client, systemWorker] = await Promise.all([
    issueCertificate(ca, 'frontend', 'serverAuth', [CLUSTER_SERVER_NAME, 'localhost']),
    issueCertificate(ca, 'batch-gateway-client', 'clientAuth'),
    issueCertificate(ca, 'temporal-system-worker', 'clientAuth'),
  ]);
  return { ca, serverName: CLUSTER_SERVER_NAME, server, client, systemWorker };
}
