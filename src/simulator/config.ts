import { z } from 'zod';

// A probability in [0, 1]; rates are summed and partition one uniform draw (see faults.ts).
const rate = z.number().min(0).max(1);
const ms = z.number().min(0);

export const simulatorOptionsSchema = z.object({
  port: z.number().int().min(0).max(65535).default(8090),
  host: z.string().min(1).default('127.0.0.1'),
  /** Base delay applied to every inference call before it is answered. */
  latencyMs: ms.default(20),
  /** Extra delay uniform in [0, jitterMs), derived from a hash so runs repeat exactly. */
  jitterMs: ms.default(0),
  faultRate409: rate.default(0),
  faultRate429: rate.default(0),
  faultRate500: rate.default(0),
  faultRateTimeout: rate.default(0),
  /** Value of the Retry-After header (seconds) on 429 answers. */
  retryAfterS: ms.default(1),
  /** How long a "timeout" fault hangs before it finally answers 504. */
  timeoutMs: ms.default(30_000),
  /** When set, any other bearer token (or none) gets 401. */
  requiredApiKey: z.string().min(1).optional(),
  /**
   * Throttling like a gateway at capacity: a call arriving while this many calls of its model are
   * being served gets 429 at once, with Retry-After `retryAfterS`. 0 turns it off.
   */
  rateLimitConcurrency: z.number().int().min(0).default(0),
  /**
   * Requests per minute per model (a bucket of one second's worth): a call beyond it gets 429 at
   * once, with Retry-After until the next call would pass. 0 turns it off.
   */
  rateLimitRpm: ms.default(0),
  /**
   * Serving capacity per model, like a model server's batch slots: at most this many calls of a
   * model are served at once, later ones wait in a FIFO queue (no 429: they are slow, not
   * refused). A call's latency starts when it gets a slot. Only calls the model would answer
   * queue; throttled calls, auth and validation errors and scripted or rate-based faults do
   * not. 0 (the default) turns it off: every call is served at once.
   */
  servingSlots: z.number().int().min(0).default(0),
  /**
   * With `servingSlots`: extra service time per call already being served when a call gets its
   * slot (a model server's step time grows with its batch), e.g. 2 → +126 ms with 63 others.
   */
  latencyPerInFlightMs: ms.default(0),
});

export type SimulatorOptions = z.infer<typeof simulatorOptionsSchema>;

/**
 * Options that may change while the simulator runs (configure() and POST /_sim/config).
 * Port and host are fixed once listening. `requiredApiKey: null` removes the key check.
 * Strict, so a misspelt option is reported instead of silently ignored.
 */
export const simulatorPatchSchema = z
  .object({
    latencyMs: ms,
    jitterMs: ms,
    faultRate409: rate,
    faultRate429: rate,
    faultRate500: rate,
    faultRateTimeout: rate,
    retryAfterS: ms,
    timeoutMs: ms,
    requiredApiKey: z.string().min(1).nullable(),
    rateLimitConcurrency: z.number().int().min(0),
    rateLimitRpm: ms,
    servingSlots: z.number().int().min(0),
    latencyPerInFlightMs: ms,
  })
  .partial()
  .strict();

export type SimulatorPatch = z.infer<typeof simulatorPatchSchema>;

/** Runtime-mutable settings as held by the running server. */
export type SimulatorSettings = Omit<SimulatorOptions, 'port' | 'host'>;

/** Fills defaults and validates; throws a ZodError on bad values. */
export function resolveSimulatorOptions(opts: Partial<SimulatorOptions> = {}): SimulatorOptions {
  return simulatorOptionsSchema.parse(opts);
}

// Env values are strings; blank means "not set" so `SIM_LATENCY_MS=` falls back to the default.
function envNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, got ${JSON.stringify(raw)}`);
  return n;
}

function envString(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

export function simulatorConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SimulatorOptions {
  return simulatorOptionsSchema.parse({
    port: envNumber(env, 'SIM_PORT'),
    host: envString(env, 'SIM_HOST'),
    latencyMs: envNumber(env, 'SIM_LATENCY_MS'),
    jitterMs: envNumber(env, 'SIM_JITTER_MS'),
    faultRate409: envNumber(env, 'SIM_FAULT_RATE_409'),
    faultRate429: envNumber(env, 'SIM_FAULT_RATE_429'),
    faultRate500: envNumber(env, 'SIM_FAULT_RATE_500'),
    faultRateTimeout: envNumber(env, 'SIM_FAULT_RATE_TIMEOUT'),
    retryAfterS: envNumber(env, 'SIM_RETRY_AFTER_S'),
    timeoutMs: envNumber(env, 'SIM_TIMEOUT_MS'),
    requiredApiKey: envString(env, 'SIM_REQUIRED_API_KEY'),
    rateLimitConcurrency: envNumber(env, 'SIM_RATE_LIMIT_CONCURRENCY'),
    rateLimitRpm: envNumber(env, 'SIM_RATE_LIMIT_RPM'),
    servingSlots: envNumber(env, 'SIM_SERVING_SLOTS'),
    latencyPerInFlightMs: envNumber(env, 'SIM_LATENCY_PER_IN_FLIGHT_MS'),
  });
}
