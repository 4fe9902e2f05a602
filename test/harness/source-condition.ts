// Bundler options for a test's own Worker.create({ workflowsPath }): our package's exports by name
// (`temporal-batch-gateway/workflow` …) resolve to the TypeScript sources (package.json's "source"
// condition), as in vitest, not to dist/.
import type { WorkerOptions } from '@temporalio/worker';

export const sourceBundlerOptions: NonNullable<WorkerOptions['bundlerOptions']> = {
  webpackConfigHook: (config) => ({
    ...config,
    // '...' keeps webpack's default conditions after ours.
    resolve: { ...config.resolve, conditionNames: ['source', '...'] },
  }),
};
