import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.data/**', '.tools/**', '.venv/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O modules.
    // Also the helpers other teams' workflows import, and the team workflows of the tests.
    files: [
      'src/workflows/**/*.ts',
      'src/client/workflow.ts',
      'src/nexus/batches-service.ts',
      // The tracing workflow interceptors, bundled into the workflow code.
      'src/observability/tracing-workflow.ts',
      'src/observability/tracing-ids.ts',
      'test/fixtures/team-workflows/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflow code must not import Node built-ins.' },
            {
              group: [
                'fs',
                'fs/*',
                'path',
                'os',
                'crypto',
                'http',
                'https',
                'net',
                'stream',
                'stream/*',
                'child_process',
                'worker_threads',
                'zlib',
                'url',
                'util',
                'events',
                'buffer',
                'timers',
                'timers/*',
                'undici',
                'fastify',
                'pino',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '../activities',
                '../activities/*',
                '../storage',
                '../storage/*',
                '../gateway',
                '../gateway/*',
                '../api',
                '../api/*',
                '../config',
              ],
              message:
                'Workflow code must stay deterministic: no I/O modules, no Node built-ins (use import type for activities).',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
