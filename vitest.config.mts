import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Threads crash Temporal's native bridge; each test file gets its own process.
    pool: 'forks',
    globalSetup: ['./test/harness/global-setup.ts'],
    setupFiles: ['./test/harness/quiet-runtime.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    maxWorkers: 2,
  },
});
