import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { workflowBundleOptions } from '../../src/temporal/bundle-workflows';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from './ports';
import { acquireS3Server, releaseS3Server, type S3Missing, type S3TestServer } from './s3-server';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
    /** The run's one S3-compatible server (versitygw) and its bucket; see s3-server.ts. */
    s3: S3TestServer | S3Missing;
  }
}

let server: DevServer | undefined;
let workDir: string | undefined;

/**
 * One real Temporal dev server (the `temporal` CLI, in memory) and one workflow bundle for the
 * whole run; every test file starts its own worker, API and gateway simulator on a task queue of its own.
 */
export async function setup(project: TestProject): Promise<void> {
  workDir = mkdtempSync(join(tmpdir(), 'batchgw-test-'));
  const [port, bundle] = await Promise.all([
    freePort(),
    // The same options as the ahead-of-time bundle of `npm run build` (interceptor modules included).
    bundleWorkflowCode(workflowBundleOptions(quietLogger)),
  ]);
  server = await startDevServer({ port, uiPort: 0, namespace: 'default', headless: true });
  const bundlePath = join(workDir, 'workflow-bundle.js');
  await writeFile(bundlePath, bundle.code);
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  project.provide('s3', await acquireS3Server());
}

export async function teardown(): Promise<void> {
  await server?.stop();
  await releaseS3Server();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

const noop = () => undefined;
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
