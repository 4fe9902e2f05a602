/**
 * OpenAI-compatible gateway simulator: deterministic bodies, configurable latency, an optional
 * serving capacity (slots and a FIFO queue, serving.ts), scripted and rate-based faults, and
 * counters that tests read over HTTP. Built for throughput: no logging, no
 * schema work on the hot path, one timer per call that is cleared if the client goes away.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { AddressInfo } from 'node:net';
import { ZodError } from 'zod';
import {
  resolveSimulatorOptions,
  simulatorPatchSchema,
  type SimulatorOptions,
  type SimulatorPatch,
  type SimulatorSettings,
} from './config';
import {
  fnv1a,
  jitterFor,
  markerFault,
  parseMarkers,
  rateFault,
  type FaultDecision,
  NO_MARKERS,
} from './faults';
import {
  MODEL_LIST,
  MODELS,
  chatCompletion,
  embeddings,
  errorBody,
  faultErrorBody,
  modelObject,
  moderation,
  response,
  textCompletion,
  type BodyContext,
  type Json,
} from './responses';
import { StatsStore, type BatchStats, type SimulatorStats } from './stats';
import { Throttle } from './throttle';
import { ServingPool, type Ticket } from './serving';

export type { SimulatorOptions, SimulatorPatch, SimulatorSettings } from './config';
export type { BatchStats, InFlightCounters, SimulatorStats } from './stats';
export type { ServingCounters, ServingSnapshot } from './serving';
export { NO_BATCH_ID } from './stats';

export interface Simulator {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8090 (OpenAI base URL is `${url}/v1`). */
  url: string;
  port: number;
  close(): Promise<void>;
  stats(): SimulatorStats;
  /** Per-batch counters (zeros for an unknown batch). */
  batch(batchId: string): BatchStats;
  /** recordId → calls for one batch. */
  records(batchId: string): Record<string, number>;
  /** Zeroes every counter, including maxInFlight and per-record attempt counts. */
  reset(): void;
  /** Changes runtime settings; throws ZodError on invalid values. Returns the settings now in force. */
  configure(patch: SimulatorPatch): SimulatorSettings;
  settings(): SimulatorSettings;
}

type Builder = (body: Json, ctx: BodyContext) => Json;

interface Endpoint {
  path: string;
  build: Builder;
  /** Used when the request names no model; undefined means `model` is required. */
  defaultModel?: string;
  /** Field that must be present for the request to be valid. */
  requiredField: string;
}

const ENDPOINTS: Endpoint[] = [
  { path: '/v1/chat/completions', build: chatCompletion, requiredField: 'messages' },
  { path: '/v1/completions', build: textCompletion, requiredField: 'prompt' },
  { path: '/v1/embeddings', build: embeddings, requiredField: 'input' },
  { path: '/v1/responses', build: response, requiredField: 'input' },
  {
    path: '/v1/moderations',
    build: moderation,
    requiredField: 'input',
    defaultModel: 'omni-moderation-latest',
  },
];

// Large enough for batch lines carrying base64 images.
const BODY_LIMIT = 50 * 1024 * 1024;

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function parseJsonObject(raw: string): Json | string {
  if (raw.length === 0) return 'We could not parse the JSON body of your request: the body is empty.';
  try {
    const v: unknown = JSON.parse(raw);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as Json;
    return 'The JSON body of your request must be an object.';
  } catch {
    return 'We could not parse the JSON body of your request. (HINT: make sure it is valid JSON.)';
  }
}

function urlFor(host: string, port: number): string {
  // Wildcard binds are reachable on loopback; IPv6 literals need brackets.
  const h = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${port}`;
}

function settingsFrom(opts: SimulatorOptions): SimulatorSettings {
  const { port: _port, host: _host, ...rest } = opts;
  return rest;
}

function applyPatch(settings: SimulatorSettings, raw: unknown): SimulatorSettings {
  const patch = simulatorPatchSchema.parse(raw);
  const { requiredApiKey, ...rest } = patch;
  Object.assign(settings, rest);
  if (requiredApiKey === null) delete settings.requiredApiKey;
  else if (requiredApiKey !== undefined) settings.requiredApiKey = requiredApiKey;
  return settings;
}

/** Settings as shown over HTTP: the key itself is never echoed back. */
function publicSettings(s: SimulatorSettings): Json {
  const { requiredApiKey, ...rest } = s;
  return { ...rest, requiredApiKeySet: requiredApiKey !== undefined };
}

export async function startSimulator(opts: Partial<SimulatorOptions> = {}): Promise<Simulator> {
  const options = resolveSimulatorOptions(opts);
  const settings = settingsFrom(options);
  let store = new StatsStore();
  let seq = 0;
  const throttle = new Throttle();
  const serving = new ServingPool(settings);
  const snapshot = (): SimulatorStats => ({ ...store.snapshot(), serving: serving.snapshot() });

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    // Record ids (custom_id) can be long; they appear as path params in /_sim/records/<batch>/<record>.
    routerOptions: { maxParamLength: 2000 },
    // close() must not wait for calls hanging in a simulated timeout.
    forceCloseConnections: true,
  });

  // Keep bodies as raw strings: markers are found by substring search, and bad JSON must produce an
  // OpenAI-shaped 400 rather than Fastify's own error.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .send(
        errorBody(`Unknown request URL: ${req.method} ${req.url}.`, 'invalid_request_error', 'unknown_url'),
      );
  });

  app.setErrorHandler((err: { statusCode?: number; message?: string }, _req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
    void reply
      .code(status)
      .send(
        errorBody(err.message ?? 'error', status >= 500 ? 'server_error' : 'invalid_request_error', null),
      );
  });

  /**
   * Decides what one inference call gets, waits, then answers. Order mirrors a real gateway:
   * auth, body validation, scripted markers, rate-based faults, success.
   */
  function handle(ep: Endpoint, req: FastifyRequest, reply: FastifyReply): void {
    const id = (++seq).toString(16);
    reply.header('x-request-id', 'req_' + id);
    const raw = typeof req.body === 'string' ? req.body : '';
    const parsed = parseJsonObject(raw);
    const body = typeof parsed === 'string' ? undefined : parsed;
    const model = body && typeof body.model === 'string' && body.model !== '' ? body.model : ep.defaultModel;
    const headers = req.headers;
    const call = store.begin(
      ep.path,
      model,
      headerValue(headers['x-batch-id']),
      headerValue(headers['x-record-id']),
      () => 'body:' + fnv1a(raw).toString(16),
      headers,
    );
    const s = settings;

    let status = 200;
    let payload: Json | undefined;
    let fault: FaultDecision | undefined;
    let delay = s.latencyMs;
    let retryAfterS = s.retryAfterS;
    // Set when the throttle admitted the call: it must leave the throttle's count exactly once.
    let admitted: string | undefined;
    let refusal: number | null;
    const markers = body ? parseMarkers(raw) : NO_MARKERS;

    if (s.requiredApiKey !== undefined && headers.authorization !== `Bearer ${s.requiredApiKey}`) {
      status = 401;
      payload =
        headers.authorization === undefined
          ? errorBody("You didn't provide an API key.", 'invalid_request_error', 'missing_api_key')
          : faultErrorBody(401);
    } else if (!body) {
      status = 400;
      payload = errorBody(parsed as string, 'invalid_request_error', null);
    } else if (model === undefined) {
      status = 400;
      payload = errorBody('You must provide a model parameter.', 'invalid_request_error', null, 'model');
    } else if (body[ep.requiredField] === undefined) {
      status = 400;
      payload = errorBody(
        `Missing required parameter: '${ep.requiredField}'.`,
        'invalid_request_error',
        'missing_required_parameter',
        ep.requiredField,
      );
    } else if (body.stream === true) {
      status = 400;
      payload = errorBody(
        'Streaming is not supported by the simulator.',
        'invalid_request_error',
        null,
        'stream',
      );
    } else if ((refusal = throttle.admit(model, s, Date.now())) !== null) {
      // Throttled: answered at once, as a gateway's rate limiter does, before any work is done.
      status = 429;
      payload = faultErrorBody(429);
      retryAfterS = refusal;
      delay = 0;
    } else {
      admitted = model;
      fault = markerFault(markers, call.attempt) ?? rateFault(s, call.recordKey, call.attempt);
      if (markers.delayMs !== undefined) delay = markers.delayMs;
      else delay += jitterFor(s, call.recordKey, call.attempt);
      if (fault.kind === 'status') {
        status = fault.status;
        payload = faultErrorBody(status);
      } else if (fault.kind === 'timeout') {
        status = 504;
        payload = faultErrorBody(504);
        delay = s.timeoutMs;
      } else if (fault.kind === 'ok') {
        payload = ep.build(body, {
          seq: id,
          model: model,
          badJson: markers.badJson,
          flag: markers.flag,
          padChars: markers.padChars,
        });
      }
    }

    let timer: NodeJS.Timeout | undefined;
    // Set while the call holds a serving slot or waits for one (servingSlots > 0).
    let ticket: Ticket | undefined;
    let queuedFor = 0;
    let servedBeside = 0;
    const res = reply.raw;
    const finish = (outcome: string): void => {
      if (call.finished) return;
      call.finish(outcome);
      if (admitted !== undefined) throttle.leave(admitted);
      if (ticket !== undefined) serving.leave(ticket);
    };
    // Fires after the answer is written or when the client disconnects first: either way the timer
    // must not outlive the call, and the call must leave the in-flight counts exactly once.
    const onClose = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      finish('aborted');
    };
    // A client that gave up while its body was still being read (a loaded machine) closed the socket
    // before this handler ran: that 'close' has been emitted already and would never reach onClose.
    if (req.raw.socket.destroyed) {
      onClose();
      return;
    }
    res.once('close', onClose);

    const answer = (): void => {
      timer = undefined;
      if (call.finished) return;
      if (fault?.kind === 'reset') {
        finish('reset');
        req.raw.socket.destroy();
        return;
      }
      finish(String(status));
      // `#sim:flag` on any answered request: the gateway's `action: flag` policy hit, reported
      // the way governed gateways do, in a response header (the answer itself is delivered).
      if (markers.flag && status === 200) reply.header('x-governance-action', 'flag');
      // What the serving-capacity model did with this call, for tests and the benchmark.
      if (ticket !== undefined) {
        reply.header('x-sim-queued-ms', String(queuedFor));
        reply.header('x-sim-served-beside', String(servedBeside));
      }
      if (status === 429) {
        reply.header('retry-after', String(retryAfterS));
        reply.header('retry-after-ms', String(Math.round(retryAfterS * 1000)));
      }
      void reply.code(status).send(payload);
    };
    if (s.servingSlots > 0 && fault?.kind === 'ok' && admitted !== undefined) {
      // The model answers this one: its latency runs once it has a slot.
      ticket = serving.enter(admitted, (others, queuedMs) => {
        if (call.finished) return;
        queuedFor = queuedMs;
        servedBeside = others;
        timer = setTimeout(answer, delay + others * s.latencyPerInFlightMs);
      });
    } else timer = setTimeout(answer, delay);
  }

  for (const ep of ENDPOINTS) {
    app.post(ep.path, (req, reply) => handle(ep, req, reply));
  }

  app.get('/v1/models', async () => MODEL_LIST);
  app.get<{ Params: { id: string } }>('/v1/models/:id', async (req, reply) => {
    if ((MODELS as readonly string[]).includes(req.params.id)) return modelObject(req.params.id);
    return reply
      .code(404)
      .send(
        errorBody(
          `The model '${req.params.id}' does not exist.`,
          'invalid_request_error',
          'model_not_found',
          'model',
        ),
      );
  });

  // ---- control plane: read by tests and the benchmark, never part of the OpenAI surface ----
  app.get('/_sim/health', async () => ({ ok: true }));
  app.get('/_sim/stats', async () => snapshot());
  app.get('/_sim/batches', async () => {
    // Batch ids come from request headers: own keys (fromEntries), never Object.prototype's.
    return Object.fromEntries(
      store.batchIds().map((id): [string, Json] => {
        const b = store.batch(id);
        return [
          id,
          {
            calls: b.calls,
            inFlight: b.inFlight,
            maxInFlight: b.maxInFlight,
            missingRecordId: b.missingRecordId,
          },
        ];
      }),
    );
  });
  app.get<{ Params: { batchId: string } }>('/_sim/batches/:batchId', async (req) =>
    store.batch(req.params.batchId),
  );
  app.get<{ Querystring: { batch?: string } }>('/_sim/records', async (req, reply) => {
    const batch = req.query.batch;
    if (typeof batch !== 'string' || batch === '') {
      return reply
        .code(400)
        .send(errorBody('Query parameter "batch" is required.', 'invalid_request_error', null, 'batch'));
    }
    return store.records(batch);
  });
  app.get<{ Params: { batchId: string; recordId: string } }>(
    '/_sim/records/:batchId/:recordId',
    async (req) => ({
      calls: store.recordCalls(req.params.batchId, req.params.recordId),
    }),
  );
  app.post('/_sim/reset', async () => {
    reset();
    return { ok: true };
  });
  app.get('/_sim/config', async () => publicSettings(settings));
  app.post('/_sim/config', async (req, reply) => {
    const parsed = parseJsonObject(typeof req.body === 'string' ? req.body : '');
    if (typeof parsed === 'string')
      return reply.code(400).send(errorBody(parsed, 'invalid_request_error', null));
    try {
      const next = publicSettings(applyPatch(settings, parsed));
      serving.pumpAll();
      return next;
    } catch (err) {
      const message =
        err instanceof ZodError
          ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
          : String(err);
      return reply.code(400).send(errorBody(message, 'invalid_request_error', null));
    }
  });

  // Calls still in flight keep references to the old store, so their late finishes cannot skew the new one.
  function reset(): void {
    store = new StatsStore();
    serving.resetCounters();
  }

  await app.listen({ port: options.port, host: options.host });
  const port = (app.server.address() as AddressInfo).port;

  return {
    url: urlFor(options.host, port),
    port,
    close: async () => {
      await app.close();
    },
    stats: snapshot,
    batch: (batchId) => store.batch(batchId),
    records: (batchId) => store.records(batchId),
    reset,
    configure: (patch) => {
      const next = { ...applyPatch(settings, patch) };
      serving.pumpAll();
      return next;
    },
    settings: () => ({ ...settings }),
  };
}
