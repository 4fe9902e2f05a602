// A server span per API request, named by its route template, continuing an incoming `traceparent`;
// everything the request does (Temporal calls, log lines) runs in its context.
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TRACER_NAME } from './tracing';

const spans = new WeakMap<FastifyRequest, { span: Span; ctx: Context }>();

/** Registers the hooks; call only when tracing is on (activeTracing()), before the routes. */
export function registerHttpTracing(app: FastifyInstance): void {
  const tracer = trace.getTracer(TRACER_NAME);
  // Callback style: the rest of the request's hooks and its handler are called inside `context.with`.
  app.addHook('onRequest', (req, reply, done) => {
    const parent = propagation.extract(context.active(), req.headers);
    const route = req.routeOptions.url;
    const span = tracer.startSpan(
      route ? `${req.method} ${route}` : req.method,
      {
        kind: SpanKind.SERVER,
        // Never the query string, headers or body: ids and keys stay out of traces.
        attributes: { 'http.request.method': req.method, ...(route ? { 'http.route': route } : {}) },
      },
      parent,
    );
    const ctx = trace.setSpan(parent, span);
    spans.set(req, { span, ctx });
    // Body chunks and the response's `finish` are emitted from the socket: bind their listeners
    // too, so the handler after a parsed body and the "request completed" log line see the span.
    context.bind(ctx, req.raw);
    context.bind(ctx, reply.raw);
    context.with(ctx, done);
  });
  // The handler in the span's context whatever ran before it (body parsers, async hooks).
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      const traced = spans.get(req);
      return traced
        ? context.with(traced.ctx, () => handler.call(this, req, reply))
        : handler.call(this, req, reply);
    };
  });
  app.addHook('onResponse', (req, reply, done) => {
    const traced = spans.get(req);
    spans.delete(req);
    if (traced) {
      traced.span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
      traced.span.end();
    }
    done();
  });
  app.addHook('onRequestAbort', (req, done) => {
    const traced = spans.get(req);
    spans.delete(req);
    if (traced) {
      traced.span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the request' });
      traced.span.end();
    }
    done();
  });
}
