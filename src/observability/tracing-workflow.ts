// Workflow interceptors for traces (bundled into the workflow code; runs in the sandbox: no Node
// built-ins, no I/O): OpenTelemetry's, with span ids that never draw on the workflow's randomness.
// First: gives the sandbox the `performance` and `window` OpenTelemetry's modules read as they load.
import '@temporalio/interceptors-opentelemetry/lib/workflow/runtime';
import type { Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import { SpanExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/span-exporter';
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

/** murmur3's 32-bit finaliser: a cheap, well-mixed hash step. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * Ids from the run id and a counter. The stock generator calls Math.random, which in a workflow is
 * the run's seeded generator: spans would shift every later `uuid4()` and random value of the
 * workflow, and a history recorded without tracing would no longer replay. A root span's trace id
 * is the run id itself (a random UUID); span ids hash (run id, n). The module, and so the counter,
 * is per workflow run (the sandbox keeps a module cache per workflow).
 */
class RunIdGenerator implements IdGenerator {
  private seed: [number, number] | null = null;
  private count = 0;

  generateTraceId(): string {
    const hex = workflowInfo().runId.replace(/-/g, '').toLowerCase();
    if (/^[0-9a-f]{32}$/.test(hex) && !/^0+$/.test(hex)) return hex;
    const [a, b] = this.next();
    const [c, d] = this.next();
    return hex8(a) + hex8(b) + hex8(c) + hex8(d);
  }

  generateSpanId(): string {
    const [a, b] = this.next();
    return hex8(a) + hex8(b || 1);
  }

  private next(): [number, number] {
    if (!this.seed) {
      // Two independent 32-bit hashes of the run id: 64 bits of it in every span id.
      let h1 = 0x9e3779b9;
      let h2 = 0x7f4a7c15;
      for (const ch of workflowInfo().runId) {
        const c = ch.charCodeAt(0);
        h1 = fmix32(h1 ^ c);
        h2 = fmix32(Math.imul(h2 ^ c, 0x27d4eb2d));
      }
      this.seed = [h1, h2];
    }
    const n = ++this.count;
    return [fmix32(this.seed[0] ^ fmix32(n)), fmix32(this.seed[1] ^ fmix32(n ^ 0x5bd1e995))];
  }
}

let tracer: Tracer | undefined;

/** One tracer per run, exporting (when a span ends, not during replay) through the `exporter` sink. */
function workflowTracer(): Tracer {
  tracer ??= new BasicTracerProvider({
    idGenerator: new RunIdGenerator(),
    spanProcessors: [new SimpleSpanProcessor(new SpanExporter())],
  }).getTracer('@temporalio/interceptor-workflow');
  return tracer;
}

class TracingInbound extends OpenTelemetryInboundInterceptor {
  protected override readonly tracer = workflowTracer();
}

class TracingOutbound extends OpenTelemetryOutboundInterceptor {
  protected override readonly tracer = workflowTracer();
}

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new TracingInbound()],
  outbound: [new TracingOutbound()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
