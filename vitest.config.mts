import { defineConfig } from 'vitest/config';

/**
 * Tests that start several OS processes (workers, APIs) or measure rates and timings: they run
 * one file at a time, after the rest, so two of them never share this machine's 2 cores.
 */
const SOLO = [
  'test/chaos/**/*.test.ts',
  'test/stops-across-workers.test.ts',
  'test/stops-after-rollover.test.ts',
  'test/reads-without-worker.test.ts',
  'test/gateway-url.test.ts',
  'test/throttling.test.ts',
  'test/fair-share.test.ts',
  'test/cluster-limits.test.ts',
  'test/production-build.test.ts',
  'test/deploy/worker-metrics-process.test.ts',
  // A PTY and a batch whose frames are counted.
  'test/cli/cli-terminal.test.ts',
  // A headless Chromium beside the stack.
  'test/console/console-browser.test.ts',
  // schemathesis (Python, two workers) fuzzing a live stack.
  'test/openapi-fuzz.test.ts',
];

/**
 * The end-to-end batch, cancel and crash tests again with every stack on S3 (TEST_STORAGE=s3: the
 * run's one versitygw, test/harness/s3-server.ts); the storage contract suite runs both backends
 * in `suite`. The crash test stays one at a time, after the solo files.
 */
const ON_S3 = ['test/batches-api.test.ts', 'test/cancel-expiry.test.ts', 'test/direct-start.test.ts'];
const ON_S3_SOLO = ['test/chaos/direct-start-crash.test.ts'];
/** Only meaningful on S3 (what a journaled result costs in requests). */
const S3_ONLY = ['test/s3-journal-cost.test.ts'];
/** The real Temporal server on PostgreSQL (test/harness/temporal-cluster.ts), several processes each. */
const CLUSTER = ['test/cluster/**/*.test.ts'];

/**
 * Our package's exports by name (`temporal-batch-gateway/client` …) resolve to the TypeScript
 * sources in tests (the "source" condition of package.json), not to dist/; then vitest's defaults
 * (Vite's server conditions without "module").
 */
const sourceFirst = { ssr: { resolve: { conditions: ['source', 'node', 'development|production'] } } };

const shared = {
  // Threads crash Temporal's native bridge; each test file gets its own process.
  pool: 'forks' as const,
  globalSetup: ['./test/harness/global-setup.ts'],
  setupFiles: ['./test/harness/quiet-runtime.ts'],
  testTimeout: 120_000,
  hookTimeout: 180_000,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    // The console's summary, and a JUnit file for tools that read results rather than logs.
    reporters: ['default', ['junit', { outputFile: 'test-results/junit.xml' }]],
    projects: [
      {
        ...sourceFirst,
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: [...SOLO, ...S3_ONLY, ...CLUSTER],
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        ...sourceFirst,
        test: {
          ...shared,
          name: 'solo',
          include: SOLO,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        ...sourceFirst,
        test: {
          ...shared,
          name: 's3',
          include: [...ON_S3, ...S3_ONLY],
          env: { TEST_STORAGE: 's3' },
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        ...sourceFirst,
        test: {
          ...shared,
          name: 's3-solo',
          include: ON_S3_SOLO,
          env: { TEST_STORAGE: 's3' },
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        ...sourceFirst,
        // One file at a time, after everything else.
        test: {
          ...shared,
          name: 'cluster',
          include: CLUSTER,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
