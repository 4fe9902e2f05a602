// Builds the workflow bundle into a file. Run as its own process by the worker entry point so
// webpack's memory never lands in the long-lived worker (about 100 MB less resident memory).
// Usage: tsx src/temporal/bundle-workflows.ts <out-file>
import { renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

export const WORKFLOWS_ENTRY = resolve(__dirname, '../workflows/index.ts');

async function main() {
  const out = process.argv[2];
  if (!out) throw new Error('usage: bundle-workflows.ts <out-file>');
  const silent = () => undefined;
  const logger = {
    trace: silent,
    debug: silent,
    info: silent,
    warn: console.warn,
    error: console.error,
    log: silent,
  };
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger });
  // Atomic: several workers sharing DATA_DIR may bundle at once; each sees a whole file.
  const temp = `${out}.${process.pid}.tmp`;
  writeFileSync(temp, bundle.code);
  renameSync(temp, out);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
