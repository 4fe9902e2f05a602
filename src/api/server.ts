import multipart from '@fastify/multipart';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { ApiError } from '../domain/api-error';
import { clip } from '../domain/clip';
import { newApiRequestId } from '../ids';
import { activeTracing, traceFields } from '../observability/tracing';
import { registerHttpTracing } from '../observability/tracing-http';
import type { FileRepository } from '../storage/file-repository';
import type { ObjectStore } from '../storage/object-store';
import type { SecretBox } from '../security/secret-box';
import type { WebhookTarget } from '../webhooks/target';
import { createAuthenticator, registerAuth, type AuthSettings } from './auth/authenticate';
import type { BatchService } from './batch-service';
import { registerBatchRoutes } from './batches-routes';
import { DEFAULT_WEB_UI_LINK, registerConsoleRoute, type WebUiLink } from './console-route';
import { registerFileRoutes } from './files-routes';
import { registerIdChecks } from './ids';
import { registerJsonBodyParser } from './json-body';
import { registerMetricsRoute } from './metrics-route';
import { registerOpenApiRoute } from './openapi/route';
import { ActiveBatchQuota } from './quota';
import { registerRecordRoutes } from './records-routes';
import { registerReplayRoutes } from './replay-routes';

export interface ApiDeps {
  store: ObjectStore;
  files: FileRepository;
  batches: BatchService;
  maxUploadBytes: number;
  completionWindows: string[];
  /** Client headers captured at batch creation and passed through to the gateway (lower-case). */
  passthroughHeaders?: string[];
  /** Seals captured headers at rest (shared key with the workers). */
  secrets: SecretBox;
  /** How callers are identified (authSettingsOf(config)); default: none, every caller is tenant `default`. */
  auth?: AuthSettings;
  /** GATEWAY_TENANT_HEADER (lower-case): never captured from a client. */
  gatewayTenantHeader?: string;
  logLevel?: string;
  /** The deployment's webhook (deploymentWebhook(config)), for tenants without their own. */
  webhook?: WebhookTarget | null;
  /** The console's link to a batch's workflow in the Temporal Web UI (webUiLinkOf(config)). */
  webUi?: WebUiLink;
}

/** Router errors (before any hook runs) in OpenAI's error shape: a too-long path id names nothing we have. */
function answerFrameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const apiError =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ApiError(404, 'not_found_error', `No such object: '${clip(req.url.split('?')[0])}'`, 'id')
      : ApiError.invalid(`Malformed request URL: '${clip(req.url)}'.`, null, 'invalid_url');
  // These go out before the onRequest hook, which sets the header on every other answer.
  void reply.header('x-request-id', req.id).status(apiError.statusCode).send(apiError.toBody());
}

/** The OpenAI-compatible HTTP façade. Stateless: files go to storage, batches to Temporal. */
export async function buildApiServer(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // With tracing on, every line logged within a request carries its trace_id and span_id.
    logger: { level: deps.logLevel ?? 'info', ...(activeTracing() ? { mixin: traceFields } : {}) },
    bodyLimit: 10 * 1024 * 1024,
    // OpenAI's clients expose `x-request-id` (`_request_id`, `request_id` on errors).
    genReqId: () => newApiRequestId(),
    // Errors the router answers before any hook (a bad %-escape, a path segment over 100
    // characters) get OpenAI's error shape too: a too-long id names nothing we have, so 404.
    frameworkErrors: answerFrameworkError,
  });
  // First, so every later hook and handler runs inside the request's span.
  if (activeTracing()) registerHttpTracing(app);
  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });
  registerMetricsRoute(app, { countByStatus: (status) => deps.batches.countByStatus(status) });
  // Identity before anything else: a request without one reaches no route (a bad keys file throws here).
  const log = { info: (m: string) => app.log.info(m), error: (m: string) => app.log.error(m) };
  registerAuth(app, await createAuthenticator(deps.auth ?? { mode: 'none' }, log));
  registerJsonBodyParser(app);
  registerIdChecks(app);
  await app.register(multipart, {
    // Two files, so the route itself answers a second `file` with a 400 naming it.
    limits: { fileSize: deps.maxUploadBytes, files: 2, fields: 20, fieldSize: 64 * 1024 },
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      // Lifts only when a batch ends: the openai clients must not retry it on their own.
      if (err.code === 'too_many_active_batches') void reply.header('x-should-retry', 'false');
      return reply.status(err.statusCode).send(err.toBody());
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      // Fastify's own 4xx (bad JSON, wrong content type, body too large…) in OpenAI's error shape.
      const { message, code } = err as { message: string; code?: string };
      return reply
        .status(status)
        .send(new ApiError(status, 'invalid_request_error', message, null, code ?? null).toBody());
    }
    req.log.error({ err }, 'unhandled error');
    return reply
      .status(500)
      .send(
        new ApiError(500, 'server_error', 'The server had an error while processing your request.').toBody(),
      );
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .status(404)
      .send(
        new ApiError(
          404,
          'not_found_error',
          `Unknown route: ${req.method} ${clip(req.url.split('?')[0])}`,
        ).toBody(),
      );
  });

  app.get('/health', async (_req, reply) => {
    const ok = await deps.batches.healthy();
    return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'temporal_unreachable' });
  });
  registerOpenApiRoute(app, { completionWindows: deps.completionWindows });
  registerFileRoutes(app, { files: deps.files, store: deps.store, maxUploadBytes: deps.maxUploadBytes });
  const quota = new ActiveBatchQuota(deps.batches);
  registerBatchRoutes(app, {
    batches: deps.batches,
    files: deps.files,
    completionWindows: deps.completionWindows,
    quota,
    options: {
      store: deps.store,
      passthroughHeaders: deps.passthroughHeaders ?? [],
      secrets: deps.secrets,
      gatewayTenantHeader: deps.gatewayTenantHeader,
      webhook: deps.webhook,
    },
  });
  registerReplayRoutes(app, { ...deps, quota });
  registerRecordRoutes(app, deps);
  registerConsoleRoute(app, {
    ...(deps.webUi ?? DEFAULT_WEB_UI_LINK),
    completionWindows: deps.completionWindows,
  });
  return app;
}
