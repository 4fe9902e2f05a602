// The active span's trace and span id, for log lines: workflow-safe (only @opentelemetry/api, which
// reads context; no command, no randomness), so workflow code can put them into a sink call.
import { trace } from '@opentelemetry/api';

/** `trace_id` and `span_id` of the active span; {} outside any span (or with no tracer installed). */
export function activeSpanIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
