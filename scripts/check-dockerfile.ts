// Runs the Dockerfile's build stage without Docker: its COPY lines from the build context (.dockerignore
// applied) into a scratch directory, its RUN lines there, then checks what the runtime stage copies
// and runs exists and starts with production dependencies only. Called by scripts/check-dockerfile.sh.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, relative } from 'node:path';
import { interpolate, loadCompose, parseEnvFile, ROOT } from '../test/deploy/compose-file';
import { copyParts, dockerignore, loadDockerfile, type Step } from '../test/deploy/dockerfile';
import { freePort } from '../test/harness/ports';
import { startDevServer } from '../src/temporal/dev-server';
import { readFileSync } from 'node:fs';

const keep = process.argv.includes('--keep') || process.argv.includes('--reuse');
const stages = loadDockerfile();
const runtime = stages.at(-1)!;
const fromNames = new Set(runtime.steps.map((s) => s.flags.from).filter(Boolean));
const build = stages.find((s) => s.name && fromNames.has(s.name)) ?? noBuildStage();
function noBuildStage(): never {
  throw new Error('the runtime stage copies from no earlier stage');
}

// --reuse DIR: a directory kept by an earlier --keep run; its build stage is not run again.
const reuse = process.argv.includes('--reuse') ? process.argv[process.argv.indexOf('--reuse') + 1] : null;
const scratch = reuse ?? mkdtempSync(join(tmpdir(), 'dockerfile-check-'));
// Each stage's filesystem root: the image's paths (WORKDIR /app …) map under it.
const buildRoot = join(scratch, 'build');
const runtimeRoot = join(scratch, 'runtime');
const ignored = dockerignore();
let failures = 0;
const fail = (line: string) => {
  failures++;
  console.error(`FAIL ${line}`);
};
const ok = (line: string) => console.log(`ok   ${line}`);

let workdir = '/';
const inBuild = (imagePath: string) => join(buildRoot, posix.resolve(workdir, imagePath));
const env: NodeJS.ProcessEnv = { ...process.env };

function copyFromContext(step: Step) {
  const { sources, dest } = copyParts(step);
  for (const source of sources) {
    if (ignored(source)) throw new Error(`COPY ${source} (line ${step.line}): excluded by .dockerignore`);
    const from = join(ROOT, source);
    // Docker: a destination ending in / (or several sources) is a directory the sources go into.
    const target = dest.endsWith('/') || sources.length > 1 ? join(inBuild(dest), source) : inBuild(dest);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(from, target, {
      recursive: true,
      filter: (path) => !ignored(relative(ROOT, path)) || path === from,
    });
  }
}

function runStep(step: Step): boolean {
  const started = Date.now();
  console.log(`\n--- line ${step.line}: RUN ${step.text}  (in ${workdir})`);
  const cwd = inBuild('.');
  mkdirSync(cwd, { recursive: true });
  const result = spawnSync('sh', ['-c', step.text], { cwd, env, stdio: 'inherit' });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    fail(`RUN ${step.text}: exit ${result.status ?? result.signal} after ${seconds} s`);
    return false;
  }
  ok(`RUN ${step.text} (${seconds} s)`);
  return true;
}

console.log(`Build stage '${build.name}' of ${relative(ROOT, join(ROOT, 'Dockerfile'))} in ${scratch}`);
console.log(`(image ${build.image.text}; here: node ${process.version})`);
let built = true;
rmSync(runtimeRoot, { recursive: true, force: true });
for (const step of reuse ? [] : build.steps) {
  if (step.keyword === 'WORKDIR') workdir = posix.resolve(workdir, step.text);
  else if (step.keyword === 'COPY' && !step.flags.from) copyFromContext(step);
  else if (step.keyword === 'ENV')
    for (const pair of step.text.split(/\s+/)) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  else if (step.keyword === 'RUN') {
    if (!runStep(step)) {
      built = false;
      break;
    }
  } else throw new Error(`line ${step.line}: ${step.keyword} in the build stage is not simulated here`);
}

async function checkRuntime() {
  console.log('\n--- the runtime stage');
  // COPY --from=build, as hard links (a real separate tree, cheap): the runtime sees only those.
  let runtimeWorkdir = '/';
  const runtimeEnv: Record<string, string> = {};
  for (const step of runtime.steps) {
    if (step.keyword === 'WORKDIR') runtimeWorkdir = posix.resolve(runtimeWorkdir, step.text);
    else if (step.keyword === 'ENV')
      for (const pair of step.text.split(/\s+/)) {
        const eq = pair.indexOf('=');
        runtimeEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    else if (step.keyword === 'COPY') {
      const { sources, dest } = copyParts(step);
      const from = join(buildRoot, sources[0]);
      const to = join(runtimeRoot, posix.resolve(runtimeWorkdir, dest));
      if (sources.length !== 1 || step.flags.from !== build.name)
        fail(`line ${step.line}: COPY not simulated`);
      else if (!existsSync(from))
        fail(`COPY --from=${build.name} ${sources[0]}: not produced by the build stage`);
      else {
        mkdirSync(dirname(to), { recursive: true });
        const cp = spawnSync('cp', ['-al', from, to], { stdio: 'inherit' });
        if (cp.status === 0) ok(`COPY --from=${build.name} ${sources[0]} ${dest}`);
        else fail(`cp -al ${from} ${to}: exit ${cp.status}`);
      }
    } else if (step.keyword === 'RUN') console.log(`     (not run here: RUN ${step.text})`);
  }
  const atRuntime = (path: string) => join(runtimeRoot, posix.resolve(runtimeWorkdir, path));

  // Every file the image runs: CMD, HEALTHCHECK, the compose services' commands and health checks.
  const compose = interpolate(
    loadCompose(),
    parseEnvFile(readFileSync(join(ROOT, 'deploy/compose.env.example'), 'utf8')),
  ) as {
    services: Record<string, { build?: unknown; command?: string[]; healthcheck?: { test?: string[] } }>;
  };
  const runs = new Set<string>(['dist/workflow-bundle.js']);
  for (const step of runtime.steps.filter((s) => s.keyword === 'CMD' || s.keyword === 'HEALTHCHECK'))
    step.exec?.filter((a) => a.startsWith('dist/')).forEach((a) => runs.add(a));
  for (const service of Object.values(compose.services).filter((s) => s.build))
    [...(service.command ?? []), ...(service.healthcheck?.test ?? [])]
      .filter((a) => a.startsWith('dist/'))
      .forEach((a) => runs.add(a));
  for (const file of runs)
    if (existsSync(atRuntime(file)) && statSync(atRuntime(file)).size > 0) ok(`in the image: ${file}`);
    else fail(`${file}: not in the runtime stage`);

  // The compiled entry points load in the runtime tree, production dependencies only: each stops
  // at its first check of the environment, after every import resolved. (DATA_DIR: a scratch
  // directory instead of the image's /data.)
  const base = {
    ...runtimeEnv,
    PATH: process.env.PATH,
    HOME: scratch,
    DATA_DIR: join(scratch, 'data'),
  };
  const starts: { args: string[]; env: Record<string, string | undefined>; code: number; says: RegExp }[] = [
    { args: ['dist/main/worker.js'], env: base, code: 2, says: /GATEWAY_URL is required/ },
    {
      args: ['dist/main/api.js'],
      env: { ...base, PORT: 'not-a-port' },
      code: 2,
      says: /invalid configuration: PORT/,
    },
    { args: ['dist/main/health-probe.js'], env: base, code: 1, says: /usage: health-probe/ },
    // The s3-bucket job's one dependency.
    { args: ['-e', "require.resolve('@aws-sdk/client-s3')"], env: base, code: 0, says: /^$/ },
  ];
  for (const start of starts) {
    const r = spawnSync(process.execPath, start.args, {
      cwd: atRuntime('.'),
      env: start.env,
      encoding: 'utf8',
    });
    const said = `${r.stdout}${r.stderr}`.trim();
    if (r.status === start.code && start.says.test(said))
      ok(`node ${start.args.join(' ')} → exit ${r.status}`);
    else fail(`node ${start.args.join(' ')}: exit ${r.status}, said: ${said.slice(0, 600)}`);
  }
  await healthChecksLive(atRuntime('.'), base, runtime.steps, compose.services);
  if (existsSync(atRuntime('node_modules/typescript')))
    fail('node_modules/typescript is in the image: dev dependencies were not pruned');
  else ok('dev dependencies pruned (no node_modules/typescript in the image)');
  if (existsSync(atRuntime('src'))) fail('src/ is in the image');
  else ok('no src/ in the image: compiled code only');
}

/**
 * The image's health checks, for real: the compiled API and a worker started from the runtime tree
 * against a Temporal dev server, probed with the very commands of the Dockerfile's HEALTHCHECK and
 * of the compose worker service, until they answer (each process then stopped).
 */
async function healthChecksLive(
  cwd: string,
  base: Record<string, string | undefined>,
  steps: Step[],
  services: Record<string, { healthcheck?: { test?: string[] } }>,
) {
  const apiProbe = steps.find((s) => s.keyword === 'HEALTHCHECK')?.exec;
  const workerProbe = services.worker?.healthcheck?.test?.slice(1);
  if (!apiProbe || !workerProbe)
    return fail('no HEALTHCHECK exec form, or no worker health check in compose');
  const server = await startDevServer({
    port: await freePort(),
    uiPort: 0,
    namespace: 'default',
    headless: true,
  });
  const children: ReturnType<typeof spawn>[] = [];
  try {
    const common = { ...base, TEMPORAL_ADDRESS: server.address, HOST: '127.0.0.1', LOG_LEVEL: 'warn' };
    const roles = [
      {
        name: 'api',
        args: ['dist/main/api.js'],
        env: { ...common, PORT: String(await freePort()) },
        probe: apiProbe,
      },
      {
        name: 'worker',
        args: ['dist/main/worker.js'],
        // A gateway that never answers: the worker's start does not depend on it.
        env: {
          ...common,
          GATEWAY_URL: `http://127.0.0.1:${await freePort()}`,
          METRICS_PORT: String(await freePort()),
        },
        probe: workerProbe,
      },
    ];
    await Promise.all(
      roles.map(async (role) => {
        let output = '';
        const child = spawn(process.execPath, role.args, { cwd, env: role.env });
        children.push(child);
        child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
        const [cmd, ...args] = role.probe;
        const started = Date.now();
        while (Date.now() - started < 90_000) {
          if (child.exitCode !== null)
            return fail(`${role.name} exited ${child.exitCode} before healthy: ${output.slice(-600)}`);
          const r = spawnSync(cmd === 'node' ? process.execPath : cmd, args, {
            cwd,
            env: role.env,
            encoding: 'utf8',
          });
          if (r.status === 0)
            return ok(
              `${role.name}: \`${role.probe.join(' ')}\` healthy after ${((Date.now() - started) / 1000).toFixed(1)} s (${r.stdout.trim()})`,
            );
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        fail(`${role.name}: \`${role.probe.join(' ')}\` not healthy within 90 s: ${output.slice(-600)}`);
      }),
    );
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await server.stop();
  }
}

async function main() {
  if (built) await checkRuntime();
  if (keep) console.log(`\nkept ${scratch}`);
  else rmSync(scratch, { recursive: true, force: true });
  if (!built || failures > 0) {
    console.error(`\nDockerfile check: ${built ? failures : 'build stage'} failed`);
    process.exit(1);
  }
  console.log('\nDockerfile check: the build stage ran and the runtime stage has what it runs');
}

void main();
