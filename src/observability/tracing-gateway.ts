// A client span per gateway attempt, and its W3C `traceparent` on the request, so the gateway's
// own traces join ours. Called only when tracing is on: with it off, an attempt costs nothing here.
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { TransportError, type GatewayClient, type GatewayResponse } from '../gateway/client';
import { TRACER_NAME } from './tracing';

/** What a gateway span says about the call: never the body, the headers or the key. */
export interface GatewayCallInfo {
  model?: string;
  batchId?: string;
  /** 1 for the first attempt. */
  attempt: number;
}

/** `client.post` inside a span named `POST <path>` (model, batch id, attempt, status code). */
export function tracedGatewayPost(
  client: GatewayClient,
  path: string,
  body: string,
  headers: Record<string, string>,
  tenant: string | undefined,
  info: GatewayCallInfo,
): Promise<GatewayResponse> {
  const tracer = trace.getTracer(TRACER_NAME);
  const attributes = {
    'http.request.method': 'POST',
    'url.path': path,
    'batch.attempt': info.attempt,
    // OpenTelemetry's name for a retry's number (0 on the first attempt).
    'http.request.resend_count': info.attempt - 1,
    ...(info.model !== undefined ? { 'gen_ai.request.model': info.model } : {}),
    ...(info.batchId !== undefined ? { 'batch.id': info.batchId } : {}),
  };
  return tracer.startActiveSpan(`POST ${path}`, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    const withContext = { ...headers };
    propagation.inject(context.active(), withContext);
    try {
      const res = await client.post(path, body, withContext, tenant);
      span.setAttribute('http.response.status_code', res.status);
      if (res.status >= 400) span.setStatus({ code: SpanStatusCode.ERROR });
      return res;
    } catch (err) {
      span.setAttribute('error.type', err instanceof TransportError ? err.kind : 'error');
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  });
}
