// The workflow interceptor modules, bundled into the workflow code (bundle-workflows.ts) and
// named to every worker, so the ahead-of-time bundle and a test's bundle carry the same ones.
import { extname, join } from 'node:path';

/**
 * Traces (src/observability/tracing-workflow.ts): OpenTelemetry's workflow interceptors, a span per
 * workflow run, activity, child and signal, with the trace context in the headers of what a
 * workflow starts. Headers only, no commands, and no draw on the workflow's random numbers, so
 * recorded histories replay. Their spans leave the sandbox through the `exporter` sink, which every
 * worker registers (tracing-temporal.ts) and which drops them when tracing is off.
 */
export const WORKFLOW_INTERCEPTOR_MODULES: string[] = [
  // .ts from the sources (tsx, tests), .js when compiled: a path, as not every loader resolves .ts.
  join(__dirname, `../observability/tracing-workflow${extname(__filename)}`),
];
