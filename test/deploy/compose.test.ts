// The container deployment, checked without a Docker engine: temporal-compose.yml against the Compose
// Specification schema, by compose-go (the reference loader) and by our rules, its two setup jobs run on
// the test run's real S3 server and Temporal; the Dockerfile's structure (scripts/check-dockerfile.sh
// runs its build steps).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigSchema } from '../../src/config';
import { findTemporalCli } from '../../src/temporal/cli-path';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/definitions';
import { s3Server } from '../harness/s3-server';
import {
  COMPOSE_PATH,
  composeHeader,
  interpolate,
  InterpolationError,
  loadCompose,
  parseEnvFile,
  ROOT,
  variablesOf,
} from './compose-file';
import { copyParts, dockerignore, loadDockerfile, type Stage } from './dockerfile';

const run = promisify(execFile);
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | null>;
  healthcheck?: { test?: string[]; disable?: boolean };
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: string[];
  volumes?: unknown[];
  restart?: string;
  profiles?: string[];
  configs?: { source: string }[];
  secrets?: string[];
}

const raw = loadCompose();
const exampleEnv = parseEnvFile(read('deploy/compose.env.example'));
const compose = interpolate(raw, exampleEnv);
const services = compose.services as Record<string, Service>;
const rawServices = raw.services as Record<string, Service>;
const APP = ['worker', 'api'];

/** The vendored schema (deploy/schema/README.md says where it comes from). */
const SCHEMA_SHA256 = '49eb9a1e1de41315949f302f8e6221bb42acd6038977f7c0974e38596ec4cdf6';
const schemaText = read('deploy/schema/compose-spec.json');
const validateCompose = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(schemaText));
const schemaErrors = (doc: unknown) =>
  validateCompose(doc)
    ? []
    : (validateCompose.errors ?? []).map(
        (e) =>
          `${e.instancePath} ${e.message}${'unevaluatedProperty' in e.params ? ` (${String(e.params.unevaluatedProperty)})` : ''}`,
      );

/** What `npm run build` writes for a source file, from tsconfig.build.json (rootDir → outDir). */
function sourceOfBuildOutput(path: string): string | null {
  const build = JSON.parse(read('tsconfig.build.json')) as {
    compilerOptions: { rootDir: string; outDir: string };
  };
  const { rootDir, outDir } = build.compilerOptions;
  if (!path.startsWith(`${outDir}/`) || !path.endsWith('.js')) return null;
  return join(rootDir, path.slice(outDir.length + 1).replace(/\.js$/, '.ts'));
}

/** The search attributes the app's code defines: every defineSearchAttributeKey call in src/. */
function definedSearchAttributes(): Record<string, string> {
  const found: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(
          /defineSearchAttributeKey\(\s*'(\w+)',\s*SearchAttributeType\.(\w+)\s*\)/g,
        ))
          found[m[1]] = m[2];
    }
  };
  walk(join(ROOT, 'src'));
  return found;
}
const CLI_TYPE: Record<string, string> = { KEYWORD: 'Keyword', INT: 'Int', TEXT: 'Text', BOOL: 'Bool' };

describe('temporal-compose.yml', () => {
  it('the vendored Compose Specification schema is the recorded one', () => {
    expect(createHash('sha256').update(schemaText).digest('hex')).toBe(SCHEMA_SHA256);
    expect(read('deploy/schema/README.md')).toContain(SCHEMA_SHA256);
  });

  it('is valid against the Compose Specification schema, as written and interpolated', () => {
    expect(schemaErrors(raw)).toEqual([]);
    expect(schemaErrors(compose)).toEqual([]);
  });

  it('the schema check catches mistakes (it is not vacuous)', () => {
    const broken = structuredClone(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.api.helthcheck = {};
    broken.services.worker.depends_on = { s3: { condition: 'when_ready' } };
    broken.services.worker.ports = 8080;
    const errors = schemaErrors(broken);
    expect(errors).toContain('/services/api must NOT have unevaluated properties (helthcheck)');
    expect(errors.some((e) => e.startsWith('/services/worker/depends_on/s3/condition'))).toBe(true);
    expect(errors).toContain('/services/worker/ports must be array');
  });

  describe('loaded by compose-go, the reference implementation (`docker compose config`)', () => {
    let binary = '';
    beforeAll(async () => {
      binary = join(mkdtempSync(join(tmpdir(), 'compose-config-')), 'compose-config');
      // Go's module and build caches make this a few seconds after the first time.
      await run('go', ['build', '-o', binary, '.'], {
        cwd: join(ROOT, 'scripts/compose-config'),
        env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=readonly' },
        timeout: 170_000,
      });
    }, 180_000);

    it('accepts the file with every profile, resolving it exactly as these checks do', async () => {
      const { stdout } = await run(binary, [COMPOSE_PATH, join(ROOT, 'deploy/compose.env.example')]);
      const resolved = parse(stdout) as { services: Record<string, Service> };
      expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(services).sort());
      for (const [name, service] of Object.entries(services)) {
        const theirs = resolved.services[name];
        expect(theirs.image, name).toBe(service.image);
        // The scripts the setup-job tests run are the ones compose would run.
        expect(theirs.command, name).toEqual(service.command);
        expect(theirs.entrypoint, name).toEqual(service.entrypoint);
        const env = Object.fromEntries(
          Object.entries(service.environment ?? {}).map(([k, v]) => [k, v === null ? null : String(v)]),
        );
        expect(theirs.environment ?? {}, name).toEqual(env);
        expect(theirs.deploy?.replicas, name).toBe(service.deploy?.replicas);
      }
    });

    it('refuses to load without a required secret, naming it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'compose-env-'));
      const envFile = join(dir, 'without-secrets-key.env');
      writeFileSync(envFile, read('deploy/compose.env.example').replace(/^SECRETS_KEY=.*$/m, ''));
      await expect(run(binary, [COMPOSE_PATH, envFile])).rejects.toMatchObject({
        code: 1,
        stderr: expect.stringContaining('required variable SECRETS_KEY is missing a value'),
      });
    });
  });

  it('every image is pinned to a version (no latest, no bare name)', () => {
    for (const [name, service] of Object.entries(services)) {
      expect(service.image, name).not.toMatch(/:latest$/);
      // Built here: the tag names this build; pulled: a version with digits.
      expect(service.image, name).toMatch(service.build ? /^[\w./-]+:[\w.-]+$/ : /^[\w./-]+:v?\d+(\.\d+)+$/);
    }
  });

  it('the worker and the API run compiled files built by the Dockerfile, with no source mount', () => {
    for (const name of APP) {
      const service = services[name];
      expect(service.build, name).toEqual({ context: '.', dockerfile: 'Dockerfile' });
      expect(service.volumes ?? [], name).toEqual([]);
      expect(service.command?.[0], name).toBe('node');
    }
    // With the V8 flags of `npm run worker` and `npm run api` (package.json).
    expect(services.worker.command).toEqual([
      'node',
      '--max-old-space-size=256',
      '--max-semi-space-size=12',
      'dist/main/worker.js',
    ]);
    expect(services.api.command).toEqual(['node', '--max-semi-space-size=2', 'dist/main/api.js']);
    const runs = Object.values(services)
      .filter((s) => s.build)
      .flatMap((s) => [...(s.command ?? []), ...(s.healthcheck?.test ?? [])])
      .filter((arg) => arg.startsWith('dist/'));
    for (const file of runs) {
      const source = sourceOfBuildOutput(file);
      expect(source, `${file} is a tsc output`).not.toBeNull();
      expect(existsSync(join(ROOT, source!)), `${source} exists`).toBe(true);
    }
  });

  it('the services built from the Dockerfile set only settings the app reads (or the AWS SDK)', () => {
    const known = new Set(Object.keys(ConfigSchema.shape));
    const sdk = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    for (const name of APP)
      for (const key of Object.keys(services[name].environment ?? {}))
        expect(known.has(key) || sdk.has(key), `${name}: ${key} is a setting of src/config.ts`).toBe(true);
  });

  it('every ${VAR} is documented (src/config.ts or the file header) and set by the env example', () => {
    const header = composeHeader();
    const config = new Set(Object.keys(ConfigSchema.shape));
    const used = [...variablesOf(raw)];
    expect(used.length).toBeGreaterThan(5);
    for (const name of used)
      expect(config.has(name) || new RegExp(`\\b${name}\\b`).test(header), `${name} is documented`).toBe(
        true,
      );
    // Required ones (${VAR:?…}) make the file fail to load without them: the example sets each.
    const text = read('temporal-compose.yml');
    const required = new Set([...text.matchAll(/\$\{(\w+):\?/g)].map((m) => m[1]));
    expect([...required].sort()).toEqual(
      [
        'API_KEYS_PATH',
        'AWS_ACCESS_KEY_ID',
        'AWS_SECRET_ACCESS_KEY',
        'GATEWAY_URL',
        'GRAFANA_ADMIN_PASSWORD',
        'POSTGRES_PASSWORD',
        'SECRETS_KEY',
      ].sort(),
    );
    for (const name of required) expect(exampleEnv[name], name).toBeTruthy();
  });

  it('without the secrets it refuses to load, naming the missing one', () => {
    const { SECRETS_KEY: _s, ...withoutKey } = exampleEnv;
    expect(() => interpolate(raw, withoutKey)).toThrow(InterpolationError);
    expect(() => interpolate(raw, withoutKey)).toThrow(/SECRETS_KEY/);
    expect(() => interpolate(raw, { ...exampleEnv, POSTGRES_PASSWORD: '' })).toThrow(/POSTGRES_PASSWORD/);
  });

  it('holds no literal secret: passwords, keys and tokens come from variables', () => {
    for (const [name, service] of Object.entries(rawServices))
      for (const [key, value] of Object.entries(service.environment ?? {}))
        if (/PASSWORD|PWD|SECRET|TOKEN|_KEY(_ID)?$/.test(key))
          expect(String(value), `${name}: ${key}`).toMatch(/^\$\{\w+(:[-?][^}]*)?\}$/);
    const secrets = compose.secrets as Record<string, { file: string }>;
    expect(String((raw.secrets as Record<string, { file: string }>).api_keys.file)).toMatch(
      /^\$\{API_KEYS_PATH:\?/,
    );
    expect(secrets.api_keys.file).toBe(exampleEnv.API_KEYS_PATH);
  });

  it('start order: waits on health checks that exist, and on jobs that run once', () => {
    const dockerfileHealthcheck = loadDockerfile()
      .at(-1)!
      .steps.some((s) => s.keyword === 'HEALTHCHECK');
    for (const [name, service] of Object.entries(services))
      for (const [dep, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = services[dep];
        expect(target, `${name} depends on ${dep}`).toBeDefined();
        expect(target.profiles ?? [], `${name} depends on ${dep} of a profile`).toEqual(
          service.profiles ?? [],
        );
        if (condition === 'service_healthy')
          expect(
            (target.healthcheck?.test && !target.healthcheck.disable) ||
              (target.build && dockerfileHealthcheck && !target.healthcheck?.disable),
            `${dep} has a health check`,
          ).toBeTruthy();
        else expect(condition, `${name} → ${dep}`).toBe('service_completed_successfully');
        if (condition === 'service_completed_successfully') expect(target.restart, dep).toBe('no');
      }
    // Every long-running service reports its health.
    for (const name of ['postgresql', 'temporal', 's3', ...APP])
      expect(services[name].healthcheck?.test, name).toBeDefined();
    // The app starts only once its namespace, search attributes and bucket exist.
    for (const name of APP)
      expect(Object.keys(services[name].depends_on ?? {}).sort()).toEqual(
        ['s3-bucket', 'temporal-search-attributes'].sort(),
      );
  });

  it('scale: 3 workers, 2 APIs with one host port each, storage on the S3 store', () => {
    expect(services.worker.deploy?.replicas).toBe(3);
    expect(services.api.deploy?.replicas).toBe(2);
    const [range] = services.api.ports ?? [];
    const [, first, last] = /^(\d+)-(\d+):8080$/.exec(range) ?? [];
    expect(Number(last) - Number(first) + 1).toBe(2);
    for (const name of APP) {
      expect(services[name].environment?.STORAGE_URL, name).toMatch(/^s3:\/\//);
      expect(services[name].environment?.AWS_ENDPOINT_URL, name).toBe('http://s3:7070');
      expect(services[name].environment?.TEMPORAL_ADDRESS, name).toBe('temporal:7233');
    }
    expect(services.s3.image).toMatch(/^versity\/versitygw:v1\.8\.0$/);
    expect(services.temporal.image).toMatch(/^temporalio\/server:1\.29\.\d+$/);
    expect(JSON.stringify(compose)).not.toMatch(/minio/i);
  });

  it('registers every search attribute the app defines', () => {
    const defined = definedSearchAttributes();
    expect(Object.keys(defined).length).toBeGreaterThanOrEqual(5);
    const expected = Object.entries(defined).map(([name, type]) => `${name}=${CLI_TYPE[type]}`);
    const registered = String(services['temporal-search-attributes'].environment?.SEARCH_ATTRIBUTES).split(
      /\s+/,
    );
    expect(registered.sort()).toEqual(expected.sort());
    // The same list the dev server registers.
    expect(
      Object.entries(SEARCH_ATTRIBUTES)
        .map(([n, t]) => `${n}=${t}`)
        .sort(),
    ).toEqual(expected.sort());
  });

  it('every file it mounts (configs, secrets) is in the repository', () => {
    const files = Object.values(compose.configs as Record<string, { file?: string; content?: string }>)
      .map((c) => c.file)
      .filter((f): f is string => !!f);
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) expect(existsSync(join(ROOT, file)), file).toBe(true);
    for (const service of Object.values(services))
      for (const { source } of service.configs ?? [])
        expect((compose.configs as Record<string, unknown>)[source], source).toBeDefined();
  });

  it('Prometheus scrapes every worker and API replica under the job names the alerts and dashboard use', () => {
    const configs = compose.configs as Record<string, { content?: string }>;
    const prometheus = parse(configs['prometheus-config'].content!) as {
      rule_files: string[];
      scrape_configs: { job_name: string; dns_sd_configs?: { names: string[]; port: number }[] }[];
    };
    const jobs = new Map(prometheus.scrape_configs.map((c) => [c.job_name, c]));
    expect(jobs.get('batch-gateway-worker')?.dns_sd_configs).toEqual([
      { names: ['worker'], type: 'A', port: Number(services.worker.environment?.METRICS_PORT) },
    ]);
    expect(jobs.get('batch-gateway-api')?.dns_sd_configs).toEqual([
      { names: ['api'], type: 'A', port: Number(services.api.environment?.PORT) },
    ]);
    const mounted = services.prometheus.configs as unknown as { source: string; target: string }[];
    expect(mounted.find((c) => c.source === 'prometheus-alerts')?.target).toBe(prometheus.rule_files[0]);
    const used = [read('deploy/prometheus-alerts.yml'), read('deploy/grafana-dashboard.json')]
      .flatMap((text) => [
        ...text.matchAll(/job\s*=~?\s*\\?"([^"\\]+)\\?"|"query":\s*"(batch-gateway-[\w-]+)"/g),
      ])
      .flatMap((m) => (m[1] ?? m[2]).split('|'))
      // `$worker_job`: a dashboard variable, whose value (its query) is matched above.
      .filter((job) => !job.startsWith('$'));
    expect(used.length).toBeGreaterThan(0);
    for (const job of used) expect(jobs.has(job), `job ${job} is scraped`).toBe(true);
  });

  describe('its setup jobs, run for real', () => {
    it('the bucket job creates the bucket, and finds it on a second run', async () => {
      const s3 = s3Server();
      const job = services['s3-bucket'];
      expect(job.command?.slice(0, 2)).toEqual(['node', '-e']);
      const bucket = `compose-${randomBytes(4).toString('hex')}`;
      const env = {
        PATH: process.env.PATH,
        ...(job.environment as Record<string, string>),
        S3_BUCKET: bucket,
        AWS_ENDPOINT_URL: s3.endpoint,
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      };
      // From the repo root: node_modules holds the same @aws-sdk/client-s3 as the image's /app.
      const first = await run('node', job.command!.slice(1), { cwd: ROOT, env });
      expect(first.stdout).toContain(`created bucket ${bucket}`);
      const second = await run('node', job.command!.slice(1), { cwd: ROOT, env });
      expect(second.stdout).toContain(`bucket ${bucket} exists`);
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      });
      await expect(client.send(new HeadBucketCommand({ Bucket: bucket }))).resolves.toBeDefined();
      // Wrong credentials: the job fails (exit 1) and says why.
      await expect(
        run('node', job.command!.slice(1), { cwd: ROOT, env: { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' } }),
      ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining(`cannot create bucket ${bucket}`) });
    });

    it('the search-attribute job creates the namespace and registers every attribute, twice', async () => {
      const cli = findTemporalCli();
      if (!cli) throw new Error('the temporal CLI is not installed: run `npm run setup`');
      const job = services['temporal-search-attributes'];
      expect(job.entrypoint).toEqual(['sh', '-ec']);
      const namespace = `compose-${randomBytes(4).toString('hex')}`;
      const env = {
        ...(job.environment as Record<string, string>),
        PATH: `${dirname(cli)}:${process.env.PATH}`,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: namespace,
      };
      for (let i = 0; i < 2; i++) {
        const { stdout } = await run('sh', ['-ec', job.command![0]], { env, timeout: 90_000 });
        expect(stdout).toContain(`namespace ${namespace}: search attributes`);
      }
      const { stdout } = await run(cli, ['operator', 'search-attribute', 'list', '--namespace', namespace], {
        env,
      });
      for (const [name, type] of Object.entries(definedSearchAttributes()))
        expect(stdout).toMatch(new RegExp(`^\\s*${name}\\s+${CLI_TYPE[type]}\\s*$`, 'm'));
    });
  });
});

describe('Dockerfile', () => {
  const stages = loadDockerfile();
  const runtime = stages.at(-1)!;
  const build = stages[0];
  const steps = (stage: Stage, keyword: string) => stage.steps.filter((s) => s.keyword === keyword);

  it('is multi-stage on a pinned, glibc Node image of at least 20.19', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const { image } of stages) {
      expect(image.name).toBe('node');
      expect(image.tag ?? image.digest, image.text).toMatch(/^\d+\.\d+\.\d+-[a-z]+-slim$|^sha256:/);
      const [major, minor] = (image.tag ?? '').split(/[.-]/).map(Number);
      expect(major > 20 || (major === 20 && minor >= 19), image.text).toBe(true);
    }
    expect(new Set(stages.map((s) => s.image.text)).size, 'one Node for build and runtime').toBe(1);
  });

  it('builds with dev dependencies, and the runtime keeps production dependencies only', () => {
    const runs = steps(build, 'RUN').map((s) => s.text);
    const install = runs.findIndex((r) => /^npm (ci|install)\b/.test(r));
    const buildRun = runs.findIndex((r) => r === 'npm run build');
    const prune = runs.findIndex((r) => /^npm prune --omit=dev\b/.test(r));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(runs[install]).not.toMatch(/--omit=dev|--production/);
    expect(buildRun).toBeGreaterThan(install);
    expect(prune).toBeGreaterThan(buildRun);
    // The runtime installs nothing itself: it copies the pruned node_modules and dist/ from the build.
    expect(steps(runtime, 'RUN').some((s) => /\bnpm\b/.test(s.text))).toBe(false);
    const fromBuild = steps(runtime, 'COPY').map((s) => ({ from: s.flags.from, ...copyParts(s) }));
    expect(fromBuild.every((c) => c.from === build.name)).toBe(true);
    expect(fromBuild.map((c) => c.sources[0]).sort()).toEqual(
      ['/app/dist', '/app/node_modules', '/app/package.json'].sort(),
    );
  });

  it('the runtime runs as a non-root user, has a health check and runs a compiled entry point', () => {
    const users = steps(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.text).not.toMatch(/^(root|0)(:|$)/);
    const [healthcheck] = steps(runtime, 'HEALTHCHECK');
    expect(healthcheck?.text).toMatch(/^CMD /);
    expect(healthcheck.exec).toEqual(['node', 'dist/main/health-probe.js', 'PORT', '/health']);
    const cmd = steps(runtime, 'CMD').at(-1)!;
    expect(cmd.exec).toEqual(['node', '--max-semi-space-size=2', 'dist/main/api.js']);
    expect(steps(runtime, 'ENTRYPOINT')).toEqual([]);
    for (const file of [cmd.exec!.at(-1)!, healthcheck.exec![1], 'dist/main/worker.js']) {
      const source = sourceOfBuildOutput(file);
      expect(source && existsSync(join(ROOT, source)), `${file} ← ${source}`).toBe(true);
    }
    // Where a build has been run here, its outputs are the files named.
    if (existsSync(join(ROOT, 'dist/main')))
      for (const file of ['dist/main/api.js', 'dist/main/worker.js'])
        expect(existsSync(join(ROOT, file)), file).toBe(true);
  });

  it('copies only sources that exist and that .dockerignore leaves in the context', () => {
    const ignored = dockerignore();
    const copies = stages.flatMap((s) => steps(s, 'COPY').filter((c) => !c.flags.from));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies)
      for (const source of copyParts(copy).sources) {
        expect(existsSync(join(ROOT, source)), `COPY ${source} (line ${copy.line})`).toBe(true);
        expect(ignored(source), `COPY ${source} is not ignored`).toBe(false);
      }
    expect(steps(build, 'ADD')).toEqual([]);
  });

  it('.dockerignore keeps local state out of the build context', () => {
    const ignored = dockerignore();
    for (const path of [
      'node_modules',
      'node_modules/x/index.js',
      'dist',
      '.data/temporal.db',
      '.tools/bin/temporal',
      '.venv',
      '.git',
      '.env',
      'a/__pycache__/x.pyc',
      'keys.json',
    ])
      expect(ignored(path), path).toBe(true);
    for (const path of ['src/main/api.ts', 'package.json', 'package-lock.json', 'tsconfig.json'])
      expect(ignored(path), path).toBe(false);
  });

  describe('the health probe', () => {
    let server: Server;
    let port = 0;
    beforeAll(async () => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/health' ? 200 : req.url === '/unhealthy' ? 503 : 404;
        res.end('{}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    const probe = (env: Record<string, string>, ...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main/health-probe.ts'), ...args], {
        env: { PATH: process.env.PATH, ...env },
        cwd: ROOT,
      }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );

    /**
     * Runs the probe until it gives the expected exit code and output, at most 3 times, as Docker
     * counts a health check (retries): on a loaded machine one run can hit the probe's own timeout.
     */
    async function expectProbe(env: Record<string, string>, args: string[], code: number, says: string) {
      const seen: { code: number; out: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const result = await probe(env, ...args);
        if (result.code === code && result.out.includes(says)) return;
        seen.push(result);
      }
      expect(seen, `health-probe ${args.join(' ')}`).toEqual([]);
    }

    it('exits 0 on 2xx and 1 on an error status, a closed port or a missing setting', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const closedPort = String((closed.address() as AddressInfo).port);
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const url = `http://127.0.0.1:${port}`;
      await expectProbe({ PORT: String(port) }, ['PORT', '/health'], 0, `${url}/health answered 200`);
      await expectProbe({ PORT: String(port) }, ['PORT', '/unhealthy'], 1, `${url}/unhealthy answered 503`);
      // The variable named is the one read (the worker's METRICS_PORT, not the API's PORT).
      await expectProbe(
        { METRICS_PORT: String(port), PORT: '1' },
        ['METRICS_PORT', '/health'],
        0,
        'answered 200',
      );
      await expectProbe({}, ['METRICS_PORT', '/metrics'], 1, 'METRICS_PORT is not set to a port number');
      await expectProbe(
        { PORT: closedPort },
        ['PORT', '/health'],
        1,
        `127.0.0.1:${closedPort}/health: fetch failed`,
      );
      await expectProbe({ PORT: String(port) }, ['PORT', 'health'], 1, 'usage: health-probe');
    });
  });
});
