import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createActivityRuntime, type ActivityRuntime } from '../activities/runtime';
import type { Config } from '../config';
import { batchesServiceHandler } from '../nexus/batches-handler';
import { batchEventSinks } from '../observability/batch-events-sink';
import { createLogger, type Logger } from '../observability/logger';
import { tracingWorkerOptions } from '../observability/tracing-temporal';
import type { ObjectStore } from '../storage/object-store';
import { startWorkerCensus, workerIdentity, type WorkerCensus } from './worker-census';
import { WORKFLOW_INTERCEPTOR_MODULES } from './workflow-interceptors';

export interface BatchWorkerOptions {
  config: Config;
  store: ObjectStore;
  gatewayUrl: string;
  connection: NativeConnection;
  /** The bundled workflow code (built by bundle-workflows.ts, or once per test run). */
  workflowBundle: WorkflowBundleOption;
  /** Where the batch state-change lines go (default: JSON lines on stdout at LOG_LEVEL). */
  logger?: Logger;
}

/** A worker running every batch workflow and activity on the configured task queue. */
export async function createBatchWorker(
  opts: BatchWorkerOptions,
): Promise<{ worker: Worker; runtime: ActivityRuntime; census: WorkerCensus | null }> {
  const runtime = createActivityRuntime(opts.config, opts.store, opts.gatewayUrl);
  // Unique in the deployment: the census counts the task queue's pollers by identity.
  const identity = workerIdentity();
  // Traces: activity interceptors and the workflow spans' sink (which drops them when tracing is off).
  const tracing = tracingWorkerOptions();
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.config.TEMPORAL_NAMESPACE,
    taskQueue: opts.config.TEMPORAL_TASK_QUEUE,
    identity,
    ...(opts.workflowBundle
      ? { workflowBundle: opts.workflowBundle }
      : { workflowsPath: require.resolve('../workflows') }),
    // Batch state changes: one log line and the batch metrics each (src/observability/batch-events-sink.ts).
    sinks: { ...tracing.sinks, ...batchEventSinks(opts.logger ?? createLogger(opts.config)) },
    interceptors: {
      ...tracing.interceptors,
      // Only read when the worker bundles itself: a prebuilt bundle carries them already.
      ...(opts.workflowBundle ? {} : { workflowModules: WORKFLOW_INTERCEPTOR_MODULES }),
    },
    activities: createActivities(runtime),
    // Chunk activities mostly wait on the network; the real caps are the upstream limiters.
    maxConcurrentActivityTaskExecutions: 500,
    // No eager activities: they would run a model's chunks on the worker that runs its workflow,
    // while each worker's share of the caps needs chunks on every worker (cluster-share.ts).
    maxEagerActivityReservationsPerWorkflowTask: 0,
    // Frequent heartbeats let cancellation reach running chunks within about a second.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    // The `batches` Nexus service (src/nexus): other namespaces start batches through an endpoint
    // targeting this task queue. On a server without Nexus (disabled, or without the RPC) the worker
    // runs on as before: only its Nexus poll is refused, and retried quietly.
    nexusServices: [batchesServiceHandler(opts.config.TEMPORAL_TASK_QUEUE)],
  });
  // This worker's share of the deployment-wide caps and rate limits, from the live workers.
  const census = startWorkerCensus({
    config: opts.config,
    connection: opts.connection,
    identity,
    limits: runtime.limits,
    worker,
    log: opts.logger,
  });
  return { worker, runtime, census };
}
