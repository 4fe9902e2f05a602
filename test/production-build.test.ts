// The production build: `npm run build` compiles src/ to dist/ and bundles the workflow code ahead
// of time; the compiled worker and API (plain `node dist/main/*.js`, no tsx) run a batch to
// completion, and the worker loads dist/workflow-bundle.js instead of bundling at start.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startProcessStack, type ProcessStack } from './harness/process-stack';
import type { Proc } from './harness/processes';

const ROOT = resolve(__dirname, '..');
const BUNDLE = join(ROOT, 'dist/workflow-bundle.js');

const build = async (): Promise<string> => {
  const { stdout, stderr } = await promisify(execFile)('npm', ['run', '--silent', 'build'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout + stderr;
};

/** A process's command line and NODE_OPTIONS, as the kernel sees them (Linux /proc). */
function commandOf(p: Proc): { argv: string[]; nodeOptions: string } {
  const pid = p.child.pid;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const nodeOptions = env.find((e) => e.startsWith('NODE_OPTIONS='))?.slice('NODE_OPTIONS='.length) ?? '';
  return { argv, nodeOptions };
}

let secondBuild: string;
let dataDir: string;
let stack: ProcessStack;

beforeAll(async () => {
  // The test builds what it runs, so it checks the current sources; the second build is the
  // incremental no-op every `npm start` pays.
  await build();
  secondBuild = await build();
  dataDir = mkdtempSync(join(tmpdir(), 'batchgw-built-'));
  stack = await startProcessStack({
    temporalAddress: inject('temporalAddress'),
    workers: 1,
    built: true,
    env: { DATA_DIR: dataDir },
  });
  // A build after others' edits recompiles most of src/: minutes on a loaded 2-core machine.
}, 600_000);

afterAll(async () => {
  await stack?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('the production build', () => {
  it('makes the entry points other tools run and the ahead-of-time workflow bundle', () => {
    for (const entry of [
      'main/worker',
      'main/api',
      'main/embedded',
      'main/temporal-server',
      'simulator/main',
      'client/index',
      'client/workflow',
      'nexus/batches-service',
    ]) {
      expect(existsSync(join(ROOT, 'dist', `${entry}.js`)), entry).toBe(true);
    }
    for (const types of ['client/index', 'client/workflow', 'nexus/batches-service'])
      expect(existsSync(join(ROOT, 'dist', `${types}.d.ts`)), types).toBe(true);
    expect(readFileSync(BUNDLE, 'utf8')).toContain('__TEMPORAL__');
  });

  it('re-bundles nothing when nothing changed', () => {
    expect(secondBuild).toMatch(/workflow bundle .* is up to date/);
    expect(secondBuild).not.toMatch(/bundled the workflow code/);
  });

  it('runs the worker and the API as plain node processes, without tsx', () => {
    const worker = commandOf(stack.workers[0]);
    const api = commandOf(stack.api);
    expect(worker.argv.slice(1)).toEqual([
      '--max-old-space-size=256',
      '--max-semi-space-size=12',
      join(ROOT, 'dist/main/worker.js'),
    ]);
    expect(api.argv.slice(1)).toEqual(['--max-semi-space-size=2', join(ROOT, 'dist/main/api.js')]);
    for (const p of [worker, api]) {
      expect(p.argv.join(' ')).not.toMatch(/tsx/);
      expect(p.nodeOptions).not.toMatch(/tsx/);
    }
  });

  it('loads the ahead-of-time bundle instead of bundling at start', () => {
    expect(stack.workers[0].output()).toContain(`workflow bundle ${BUNDLE}`);
    // From TypeScript the worker would have bundled into DATA_DIR/worker.
    expect(existsSync(join(dataDir, 'worker', 'workflow-bundle.js'))).toBe(false);
  });

  it('runs a batch to completion', async () => {
    const lines = Array.from({ length: 20 }, (_, i) => chatLine(`r-${i}`, 'gpt-4o-mini', `line ${i}`));
    const batch = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, batch.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toMatchObject({ total: 20, completed: 20, failed: 0 });
    const results = await readResultFile(stack.openai, done.output_file_id);
    expect(results.map((r) => r.custom_id).sort()).toEqual(lines.map((l) => l.custom_id).sort());
  });
});
