// OpenTelemetry traces: one tracer provider per process, exporting over OTLP/HTTP when
// OTEL_EXPORTER_OTLP_ENDPOINT is set; when it is not, nothing is installed and nothing is traced.
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config';
import { activeSpanIds } from './tracing-ids';

export type TracingConfig = Pick<
  Config,
  'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' | 'OTEL_SERVICE_NAME'
>;

export interface TracingOptions {
  /** Tests: every span goes to this exporter at once (SimpleSpanProcessor), whatever the settings say. */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly serviceName: string;
  /** The processor the provider uses; the worker hands workflow spans (from the sandbox) to it too. */
  readonly processor: SpanProcessor;
  readonly resource: Resource;
  /** Exports every ended span now (tests; before a process exits). */
  flush(): Promise<void>;
  /** Flushes, then removes the provider: tracing is off again in this process. */
  shutdown(): Promise<void>;
}

/** Name of the tracer our own spans (HTTP requests, gateway calls) come from. */
export const TRACER_NAME = 'temporal-batch-gateway';

let active: Tracing | null = null;

/** The tracing started in this process, or null: callers skip every span and header when it is off. */
export const activeTracing = (): Tracing | null => active;

/** The OTLP/HTTP URL spans are posted to: the traces endpoint as given, or `<endpoint>/v1/traces`. */
export function otlpTracesUrl(config: TracingConfig): string | null {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Starts tracing for this process, before any client or server is built (they check
 * `activeTracing()` when they are made). OTEL_SERVICE_NAME overrides `serviceName`. The exporter
 * reads OTEL_EXPORTER_OTLP_HEADERS (and the other OTEL_EXPORTER_OTLP_* settings) itself, and the
 * provider OTEL_TRACES_SAMPLER. Returns null, installing nothing, when no endpoint is configured.
 */
export function startTracing(
  serviceName: string,
  config: TracingConfig,
  opts: TracingOptions = {},
): Tracing | null {
  if (active) return active;
  const url = otlpTracesUrl(config);
  if (!opts.exporter && !url) return null;
  const name = config.OTEL_SERVICE_NAME ?? serviceName;
  const resource = new Resource({ [ATTR_SERVICE_NAME]: name });
  // Loaded only when tracing starts: the SDK and the exporter are ~0.25 s of a process's start.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeTracerProvider } =
    require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const processor = opts.exporter
    ? new SimpleSpanProcessor(opts.exporter)
    : new BatchSpanProcessor(
        new (
          require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http')
        ).OTLPTraceExporter({ url: url! }),
      );
  /* eslint-enable @typescript-eslint/no-require-imports */
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // W3C trace context only: a client's `baggage` header is never carried to the gateway.
  provider.register({ propagator: new W3CTraceContextPropagator() });
  const tracing: Tracing = {
    serviceName: name,
    processor,
    resource: provider.resource,
    flush: () => provider.forceFlush(),
    async shutdown() {
      if (active === tracing) active = null;
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  active = tracing;
  return tracing;
}

/** `trace_id` and `span_id` of the active span, for a log line (pino's `mixin`); {} with tracing off. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  return active ? activeSpanIds() : {};
}
