import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './contract/defaults';
import { parseS3Url } from './storage/storage-url';
import { completionWindowSeconds } from './domain/batch-state';
import { WebhookSecret, WebhookUrl } from './webhooks/target';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const list = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );
/**
 * A JSON object of model → value, as a Map: lookups are keyed by model names from tenants' files,
 * and a plain object would answer `constructor`, `toString` or `__proto__` from Object.prototype.
 */
const perModelMap = <T>(value: z.ZodType<T>, message: string) =>
  z
    .string()
    .default('')
    .transform((s, ctx): ReadonlyMap<string, T> => {
      if (!s.trim()) return new Map();
      try {
        const raw = JSON.parse(s) as unknown;
        if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(message);
        // Object.entries lists own keys only (JSON.parse makes `__proto__` an own key, kept as a model).
        return new Map(Object.entries(raw).map(([model, v]) => [model, value.parse(v)]));
      } catch {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
    });
const perModel = perModelMap(
  z.number().int().positive(),
  'must be a JSON object of model → positive integer',
);

const fraction = (def: number) => z.coerce.number().gt(0).lt(1).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'on', 'off'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'on');
const RateLimit = z
  .object({ rpm: z.number().positive().optional(), tpm: z.number().positive().optional() })
  .strict()
  .refine((l) => l.rpm !== undefined || l.tpm !== undefined);
const rateLimits = perModelMap(
  RateLimit,
  'must be a JSON object of model → {"rpm": n, "tpm": n} (positive numbers, at least one)',
);

/** Every setting, read from the environment and validated once at start. */
export const ConfigSchema = z.object({
  PORT: int(8080, 0),
  HOST: z.string().default('127.0.0.1'),
  GATEWAY_URL: z.url().optional(),
  GATEWAY_API_KEY: z.string().default(''),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default(DEFAULT_TASK_QUEUE),
  // Connecting to any Temporal (src/temporal/connection.ts); the temporal CLI reads the same names.
  /** TLS to Temporal with the system's root CAs; implied by any TEMPORAL_TLS_* setting or TEMPORAL_API_KEY; false refuses it. */
  TEMPORAL_TLS: z
    .enum(['true', 'false', '1', '0', 'on', 'off'])
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true' || v === '1' || v === 'on')),
  /** Client certificate (PEM file) for mTLS; needs TEMPORAL_TLS_KEY. */
  TEMPORAL_TLS_CERT: z.string().optional(),
  /** Private key (PEM file) of TEMPORAL_TLS_CERT. */
  TEMPORAL_TLS_KEY: z.string().optional(),
  /** Root CA (PEM file) that signed the server's certificate; unset: the system's roots. */
  TEMPORAL_TLS_CA: z.string().optional(),
  /** Name the server's certificate must carry, when it differs from TEMPORAL_ADDRESS's host. */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** API key sent as `Authorization: Bearer <key>` (Temporal Cloud); implies TLS unless TEMPORAL_TLS=false. */
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_UI_PORT: int(8233, 0),
  /** The Temporal Web UI as the console links to it; unset: http://localhost:TEMPORAL_UI_PORT. */
  TEMPORAL_UI_URL: z.url().optional(),
  DATA_DIR: z.string().default('.data'),
  // The caps and rate limits hold for the whole deployment: each worker takes its share by the
  // number of live workers (src/temporal/worker-census.ts; README "Scaling out: cluster-wide limits").
  /** In-flight upstream requests of the whole deployment (all workers), across all batches and models. */
  GLOBAL_CONCURRENCY: int(200, 1),
  /** In-flight upstream requests per model, for the whole deployment. */
  MODEL_CONCURRENCY: int(100, 1),
  /** Per-model overrides of MODEL_CONCURRENCY, JSON: {"gpt-4o": 20}. */
  MODEL_CONCURRENCY_OVERRIDES: perModel,
  /** Per-model rate limits of the whole deployment, JSON: {"gpt-4o": {"rpm": 600, "tpm": 150000}}; absent = unlimited. */
  MODEL_RATE_LIMITS: rateLimits,
  /**
   * Milliseconds between two worker censuses (DescribeTaskQueue: the live workers, hence this
   * worker's share of the caps and rate limits); 0 turns the census off: every worker then takes the
   * whole caps (per process, N workers allow N times).
   */
  WORKER_CENSUS_INTERVAL_MS: int(2000, 0),
  /**
   * A worker whose poller has not polled for this long counts as gone (the server lists dead
   * pollers for 5 minutes). Must exceed the server's long-poll expiry (matching.longPollExpirationInterval,
   * 60 s by default), after which an idle worker polls again; it is also how long the others take to
   * take back the share of a worker that died.
   */
  WORKER_CENSUS_STALE_MS: int(70_000, 1000),
  /** Adaptive per-model concurrency (AIMD) below the configured caps, driven by 429/5xx answers. */
  ADAPTIVE_CONCURRENCY: bool(true),
  /** Factor applied to a model's concurrency when a window's answers show congestion. */
  AIMD_DECREASE: fraction(0.5),
  /** Slots a model's concurrency regains per round trip while the gateway keeps up. */
  AIMD_INCREASE: z.coerce.number().positive().default(1),
  /** Shortest span over which 5xx/timeouts are judged as congestion (a 429 cuts at once). */
  AIMD_WINDOW_MS: int(200, 1),
  /** Share of a window's answers that may be 5xx/timeouts without a cut (isolated errors are not congestion). */
  AIMD_TOLERANCE: z.coerce.number().min(0).lt(1).default(0.05),
  MAX_ATTEMPTS: int(5, 1),
  /** No retry of a request starts later than this after its first attempt (0: attempts only). */
  MAX_REQUEST_ELAPSED_MS: int(600_000, 0),
  REQUEST_TIMEOUT_MS: int(120_000, 100),
  RETRY_BASE_MS: int(500, 1),
  RETRY_MAX_MS: int(30_000, 1),
  COMPLETION_WINDOWS: list('24h'),
  MAX_REQUESTS_PER_BATCH: int(50_000, 1),
  MAX_UPLOAD_BYTES: int(200 * 1024 * 1024, 1),
  /**
   * Distinct models one batch may use (more fail validation with `too_many_models`). Each model is
   * one child workflow: its start, start confirmation and completion plus the workflow tasks around
   * them cost the parent ~9 history events, and every chunk's progress signal up to ~4 more (at most
   * ~1,000 chunks are planned per batch, at least one per model). Measured: 300 one-chunk models
   * made a parent history of 2,339 events (test/hostile-input.test.ts). 256 models keep the parent
   * within ~6,000 events even with 1,000 chunks — below Temporal's 10,240-event warning, far from its
   * 51,200-event limit.
   */
  MAX_MODELS_PER_BATCH: int(256, 1),
  /**
   * Longest input line in bytes (longer lines fail validation with `line_too_large`, checked before
   * parsing). OpenAI accepts request payloads of up to 50 MB with images; 10 MiB holds several
   * base64 images while bounding what ingest holds in memory per line.
   */
  MAX_LINE_BYTES: int(10 * 1024 * 1024, 1024),
  /**
   * Longest `custom_id` in characters (longer ones fail validation with `invalid_request`, param
   * `custom_id`): it travels upstream in `X-Record-Id` and `Idempotency-Key: <batch_id>:<custom_id>`,
   * and HTTP servers commonly refuse headers over 8 KiB.
   */
  MAX_CUSTOM_ID_LENGTH: int(512, 1),
  /**
   * Deepest JSON nesting of an input line (deeper lines fail with `json_too_deep`, checked without
   * recursion before parsing). Chat requests with nested json_schema response formats reach ~20.
   */
  MAX_JSON_DEPTH: int(64, 4),
  /**
   * Bytes of parsed segments and journals finalize keeps for repeated bodies answered from earlier
   * segments; the segment being written is held even when it alone is larger.
   */
  FINALIZE_CACHE_BYTES: int(32 * 1024 * 1024, 0),
  /** Comma-separated allow-list of models; empty serves any model. */
  ALLOWED_MODELS: list(''),
  /** Requests per stored input segment (the unit of journaling and resumption), at least. */
  SEGMENT_SIZE: z.coerce.number().int().min(1).max(4096).default(100),
  /**
   * …and at most: a batch's segments hold about a 64th of its lines, between the two (fewer files
   * to write, read and finalize in a large batch; ingest.ts). Default 1000, or SEGMENT_SIZE when
   * only that is set: a deployment that chose its segment size keeps it.
   */
  SEGMENT_SIZE_LARGE: z.coerce.number().int().min(1).max(4096).default(1000),
  /**
   * Requests per chunk activity, rounded up to whole segments (0: about five rounds of the model's
   * concurrency, at least 16 chunks per live worker; see ingest/chunk-plan.ts).
   */
  CHUNK_REQUESTS: int(0, 0),
  /** Seconds a 2xx answer is reused for identical requests of later batches (0: no cross-batch cache). */
  RESPONSE_CACHE_TTL_S: int(0, 0),
  /** Identical request bodies within a batch are sent once and their answer fanned out to each custom_id. */
  DEDUPE_IDENTICAL_REQUESTS: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Encrypts captured pass-through headers at rest; required when API and workers do not share DATA_DIR. */
  SECRETS_KEY: z.string().optional(),
  /** Client headers (comma-separated) captured at batch creation and sent with every upstream call. */
  PASSTHROUGH_HEADERS: list(''),
  /** Response header by which the gateway reports an `action: flag` policy hit (value `flag`). */
  GOVERNANCE_FLAG_HEADER: z.string().default('x-governance-action'),
  /** Dotted path of a response body field by which the gateway reports `action: flag`. */
  GOVERNANCE_FLAG_FIELD: z.string().default('governance.action'),
  /**
   * Header carrying `<batch_id>:<custom_id>` on every upstream call, so a gateway can drop repeats
   * after a crash; empty (or `off`) sends none.
   */
  UPSTREAM_IDEMPOTENCY_HEADER: z
    .string()
    .default('Idempotency-Key')
    .transform((v) => (v.toLowerCase() === 'off' ? '' : v))
    .refine((v) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/.test(v), 'must be an HTTP header name, empty or off'),
  /** Seconds an `Idempotency-Key` of POST /v1/batches keeps answering with the batch it created. */
  IDEMPOTENCY_KEY_TTL_S: int(86_400, 1),
  // Webhooks (src/webhooks; README "Webhooks"): the deployment's, for tenants without their own in API_KEYS_FILE.
  /** Where `batch.completed|failed|expired|cancelled` events are POSTed (needs WEBHOOK_SECRET); unset: no events. */
  WEBHOOK_URL: WebhookUrl.optional(),
  /** Standard Webhooks signing secret, `whsec_` + base64 of 24–64 bytes (needs WEBHOOK_URL). */
  WEBHOOK_SECRET: WebhookSecret.optional(),
  /** Milliseconds a delivery attempt waits for the receiver's answer. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(15_000),
  /** Wait after the first failed attempt; doubles after each further one. */
  WEBHOOK_RETRY_INITIAL_MS: int(5_000, 1),
  /** Longest wait between two attempts (a receiver's Retry-After included). */
  WEBHOOK_RETRY_MAX_MS: int(3_600_000, 1),
  /** No attempt starts later than this after the first: then delivery gives up (default 72 h). */
  WEBHOOK_RETRY_FOR_MS: int(259_200_000, 1),
  // Authentication and tenants (checked together at the API's start: src/api/auth/authenticate.ts).
  /** JSON: API key (or `sha256:<hex>` of it) → tenant, or {tenant, weight, max_active_batches, max_in_flight, webhook_url, webhook_secret}; reloaded on change and SIGHUP. */
  API_KEYS_FILE: z.string().optional(),
  /** `keys` (API_KEYS_FILE), `trusted-header` (TENANT_HEADER from an auth proxy) or `none` (one tenant `default`); unset: keys if API_KEYS_FILE is set, else none. */
  AUTH_MODE: z.enum(['keys', 'trusted-header', 'none']).optional(),
  /** With AUTH_MODE=trusted-header: the request header holding the tenant, e.g. x-forwarded-tenant. */
  TENANT_HEADER: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')
    .transform((v) => v.toLowerCase())
    .optional(),
  /** Lets an API without authentication bind a non-loopback HOST (every caller is tenant `default`). */
  ALLOW_UNAUTHENTICATED: bool(false),
  /** Header set on every gateway call to the batch's tenant, never taken from the client; empty: none. */
  GATEWAY_TENANT_HEADER: z
    .string()
    .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/, 'must be an HTTP header name')
    .transform((v) => v.toLowerCase())
    .default(''),
  // Data lifecycle: garbage collection (src/activities/collect-garbage.ts, src/temporal/gc-schedule.ts).
  /** Garbage collection on a Temporal Schedule, created or updated by every worker at start; false deletes the schedule. */
  GC_ENABLED: bool(true),
  /** Seconds between garbage collection runs, written with a unit (`90s`, `30m`, `1h`, `1d`); at least 10 s. */
  GC_INTERVAL: z
    .string()
    .default('1h')
    .transform((v, ctx) => {
      const seconds = completionWindowSeconds(v.trim());
      if (seconds === null || seconds < 10) {
        ctx.addIssue({
          code: 'custom',
          message: 'must be a duration of at least 10 s, e.g. 90s, 30m, 1h, 1d',
        });
        return z.NEVER;
      }
      return seconds;
    }),
  /** Garbage collection only logs what it would remove. */
  GC_DRY_RUN: bool(false),
  // Object storage (src/storage/s3-store.ts; the AWS SDK reads the credentials from its default chain).
  /** `s3://bucket/prefix`: everything in that bucket under the prefix; unset: the filesystem under DATA_DIR/storage. */
  STORAGE_URL: z
    .string()
    .refine((v) => parseS3Url(v) !== null, 'must be s3://bucket or s3://bucket/prefix (a valid bucket name)')
    .optional(),
  /** An S3-compatible server (versitygw, MinIO, Ceph…), addressed path-style: http://host:port/bucket/key. */
  AWS_ENDPOINT_URL: z.url().optional(),
  /** The bucket's region; unset: the SDK's (profile), else us-east-1 when AWS_ENDPOINT_URL is set. */
  AWS_REGION: z.string().optional(),
  // Traces (src/observability/tracing.ts); the exporter reads OTEL_EXPORTER_OTLP_HEADERS itself.
  /** OTLP/HTTP collector base URL, e.g. http://127.0.0.1:4318: spans go to `<url>/v1/traces`; unset: tracing off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** Full OTLP/HTTP traces URL, instead of OTEL_EXPORTER_OTLP_ENDPOINT's `/v1/traces`; also turns tracing on. */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url().optional(),
  /** `service.name` of this process's spans; unset: batch-gateway-api, batch-gateway-worker or batch-gateway. */
  OTEL_SERVICE_NAME: z.string().optional(),
  // Metrics and logs (src/observability/).
  /**
   * A worker's metrics port: `/metrics` (Prometheus text: ours and the Temporal SDK's) and `/health`
   * (200 while the worker runs) on METRICS_HOST; unset: no metrics server, no SDK exporter. The API
   * serves `/metrics` on PORT instead.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** Address the worker's metrics server binds; the SDK's own exporter stays on loopback. */
  METRICS_HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {}

/** Settings that only make sense together, checked after each one on its own. */
const CheckedConfigSchema = ConfigSchema.superRefine((c, ctx) => {
  // A webhook is signed: a URL without its secret (or a secret without a URL) is a mistake.
  if (!c.WEBHOOK_URL !== !c.WEBHOOK_SECRET)
    ctx.addIssue({
      code: 'custom',
      path: [c.WEBHOOK_URL ? 'WEBHOOK_SECRET' : 'WEBHOOK_URL'],
      message: `must be set with ${c.WEBHOOK_URL ? 'WEBHOOK_URL' : 'WEBHOOK_SECRET'}`,
    });
});

/** Variables whose empty value is meaningful (turns a feature off) rather than "use the default". */
const KEEP_EMPTY = new Set(['UPSTREAM_IDEMPOTENCY_HEADER']);

/** Parses the environment; the error message is one line naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty value means "unset" (the default applies), except where empty is a setting of its own.
  const cleaned = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => v !== undefined && (v !== '' || KEEP_EMPTY.has(k))),
  );
  const parsed = CheckedConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  if (cleaned.SEGMENT_SIZE_LARGE === undefined && cleaned.SEGMENT_SIZE !== undefined)
    c.SEGMENT_SIZE_LARGE = c.SEGMENT_SIZE;
  c.SEGMENT_SIZE_LARGE = Math.max(c.SEGMENT_SIZE_LARGE, c.SEGMENT_SIZE);
  return c;
}

/** loadConfig for entry points: a bad value prints one clear line and exits non-zero. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function modelConcurrency(
  config: Pick<Config, 'MODEL_CONCURRENCY' | 'MODEL_CONCURRENCY_OVERRIDES'>,
  model: string,
): number {
  return config.MODEL_CONCURRENCY_OVERRIDES.get(model) ?? config.MODEL_CONCURRENCY;
}
