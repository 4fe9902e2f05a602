// Temporal's OpenTelemetry interceptors for our clients and workers: the trace of an HTTP request
// carries on, through workflow headers, into the workflow, its children and its activities.
import type { ClientInterceptors } from '@temporalio/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryNexusInboundInterceptor,
  OpenTelemetryNexusOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';
import { activeTracing } from './tracing';

/** Interceptors for a Temporal Client: a workflow start or signal carries the active trace. None when off. */
export function tracingClientInterceptors(): ClientInterceptors | undefined {
  if (!activeTracing()) return undefined;
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/**
 * What a worker needs for traces. The workflow interceptors are in every workflow bundle
 * (WORKFLOW_INTERCEPTOR_MODULES), so the `exporter` sink they call is always given: with tracing
 * off it drops the spans (a sink call is no command, and is skipped during replay).
 */
export function tracingWorkerOptions(): Pick<WorkerOptions, 'sinks'> & {
  interceptors?: NonNullable<WorkerOptions['interceptors']>;
} {
  const tracing = activeTracing();
  if (!tracing) {
    const sinks: InjectedSinks<OpenTelemetrySinks> = { exporter: { export: { fn: () => undefined } } };
    return { sinks };
  }
  const sinks: InjectedSinks<OpenTelemetrySinks> = {
    exporter: makeWorkflowExporter(tracing.processor, tracing.resource),
  };
  return {
    sinks,
    interceptors: {
      // The client the worker gives Nexus handlers: a batch started over Nexus joins the caller's trace.
      client: tracingClientInterceptors(),
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
      nexus: [
        (ctx) => ({
          inbound: new OpenTelemetryNexusInboundInterceptor(ctx),
          outbound: new OpenTelemetryNexusOutboundInterceptor(ctx),
        }),
      ],
    },
  };
}
