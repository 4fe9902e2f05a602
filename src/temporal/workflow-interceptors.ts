// The workflow interceptor modules, bundled into the workflow code (bundle-workflows.ts) and
// named to every worker, so the ahead-of-time bundle and a test's bundle carry the same ones.
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [];
