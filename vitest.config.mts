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
];

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
    projects: [
      {
        test: {
          ...shared,
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: SOLO,
          fileParallelism: true,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: 'solo',
          include: SOLO,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
