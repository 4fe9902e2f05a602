// Builds the workflow bundle into a file, in a process of its own so webpack's memory never lands
// in a long-lived worker (about 100 MB less resident memory). `npm run build` makes
// dist/workflow-bundle.js with it ahead of time; a worker run from TypeScript (tsx) bundles into
// DATA_DIR at start. With --if-stale it bundles only when an input changed since the last bundle.
// Usage: node dist/temporal/bundle-workflows.js <out-file> [--if-stale]   (or tsx src/temporal/…)
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BundleOptions } from '@temporalio/worker';
import { WORKFLOW_INTERCEPTOR_MODULES } from './workflow-interceptors';

/** The package root: src/temporal and dist/temporal are both two levels below it. */
const PACKAGE_ROOT = resolve(__dirname, '../..');
/** Always the TypeScript sources, also when this script runs compiled: the bundle is built from src/. */
export const WORKFLOWS_ENTRY = join(PACKAGE_ROOT, 'src/workflows/index.ts');

type Logger = NonNullable<BundleOptions['logger']>;
const silent = () => undefined;
const warnings: Logger = {
  trace: silent,
  debug: silent,
  info: silent,
  warn: console.warn,
  error: console.error,
  log: silent,
};

/**
 * The options of every bundle of our workflow code — the ahead-of-time one and a test run's — so
 * both carry the same workflow interceptor modules.
 */
export function workflowBundleOptions(logger: Logger = warnings): BundleOptions {
  return {
    workflowsPath: WORKFLOWS_ENTRY,
    workflowInterceptorModules: [...WORKFLOW_INTERCEPTOR_MODULES],
    logger,
  };
}

/** What a bundle was built from: the options, the bundler's version, a hash of every input file. */
export interface Inputs {
  key: string;
  files: Record<string, string | null>;
}

const hashOf = (path: string): string | null => {
  try {
    return createHash('sha1').update(readFileSync(path)).digest('base64url');
  } catch {
    return null; // missing (e.g. the bundler's generated entry point, which lives in memory)
  }
};

function keyOf(options: BundleOptions): string {
  const worker = JSON.parse(readFileSync(require.resolve('@temporalio/worker/package.json'), 'utf8')) as {
    version: string;
  };
  return JSON.stringify({
    worker: worker.version,
    workflowsPath: options.workflowsPath,
    interceptors: options.workflowInterceptorModules ?? [],
  });
}

/** The record of a bundle built from `files` (the ones webpack read) with `options`. */
export function inputsOf(files: string[], options: BundleOptions): Inputs {
  return { key: keyOf(options), files: Object.fromEntries([...files].sort().map((f) => [f, hashOf(f)])) };
}

/** True when the bundle at `out` was built from exactly the files and options there are now. */
export function bundleIsFresh(out: string, options: BundleOptions = workflowBundleOptions()): boolean {
  if (!existsSync(out)) return false;
  let inputs: Inputs;
  try {
    inputs = JSON.parse(readFileSync(`${out}.inputs.json`, 'utf8')) as Inputs;
  } catch {
    return false;
  }
  if (inputs.key !== keyOf(options)) return false;
  return Object.entries(inputs.files).every(([path, hash]) => hashOf(path) === hash);
}

/** Bundles the workflow code into `out` (atomically) and records its inputs beside it. */
export async function bundleInto(
  out: string,
  options: BundleOptions = workflowBundleOptions(),
): Promise<void> {
  // Loaded here: a check that finds the bundle fresh need not load the SDK and webpack.
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  let files: string[] = [];
  const bundle = await bundleWorkflowCode({
    ...options,
    webpackConfigHook: (config) => {
      const hooked = options.webpackConfigHook ? options.webpackConfigHook(config) : config;
      // The files webpack read: what the bundle depends on, for --if-stale.
      hooked.plugins = [
        ...(hooked.plugins ?? []),
        {
          apply(compiler) {
            compiler.hooks.done.tap('record-inputs', (stats) => {
              files = [...stats.compilation.fileDependencies];
            });
          },
        },
      ];
      return hooked;
    },
  });
  const inputs = inputsOf(files, options);
  // Atomic: several workers sharing DATA_DIR may bundle at once; each sees a whole file. The
  // inputs go last, so a reader never pairs new inputs with an old bundle.
  const temp = `${out}.${process.pid}.tmp`;
  writeFileSync(temp, bundle.code);
  renameSync(temp, out);
  writeFileSync(temp, JSON.stringify(inputs));
  renameSync(temp, `${out}.inputs.json`);
}

async function main() {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const out = args.find((a) => !a.startsWith('--'));
  if (!out) throw new Error('usage: bundle-workflows <out-file> [--if-stale]');
  const started = Date.now();
  if (ifStale && bundleIsFresh(out)) {
    console.log(`workflow bundle ${out} is up to date (checked in ${Date.now() - started} ms)`);
    return;
  }
  await bundleInto(out);
  console.log(`bundled the workflow code into ${out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
