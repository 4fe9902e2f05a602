import type { SimulatorSettings } from './config';

/**
 * What the simulator does with one call, decided before the latency wait.
 * `status` answers with that HTTP error, `timeout` hangs then answers 504, `reset` destroys the socket.
 */
export type FaultDecision =
  { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'timeout' } | { kind: 'reset' };

export const OK: FaultDecision = { kind: 'ok' };

/** One `#sim:` fault marker; `times` undefined means "every attempt". */
interface FaultMarker {
  action: FaultDecision;
  times: number | undefined;
}

/** Everything the simulator reads out of a request body's `#sim:` markers. */
export interface Markers {
  faults: FaultMarker[];
  delayMs: number | undefined;
  badJson: boolean;
  flag: boolean;
  /** `#sim:pad=N`: the answer's text is padded to N more characters (large response bodies). */
  padChars: number;
}

export const NO_MARKERS: Markers = {
  faults: [],
  delayMs: undefined,
  badJson: false,
  flag: false,
  padChars: 0,
};

/** Largest `#sim:pad=N` honoured, so a marker cannot make the simulator build an unbounded string. */
export const MAX_PAD_CHARS = 64 * 1024 * 1024;

const MARKER_PREFIX = '#sim:';
// Status codes, timeout and reset, each optionally transient (`x<N>`). The lookahead stops `#sim:4290`
// from being read as 429.
const FAULT_RE = /#sim:(\d{3}|timeout|reset)(?:x(\d+))?(?![A-Za-z0-9])/g;
const DELAY_RE = /#sim:delay=(\d+)/;
const PAD_RE = /#sim:pad=(\d+)/;

// Cached decisions so the common marker paths allocate nothing per request.
const RESET: FaultDecision = { kind: 'reset' };
const TIMEOUT: FaultDecision = { kind: 'timeout' };
const statusDecisions = new Map<number, FaultDecision>();
function statusDecision(status: number): FaultDecision {
  let d = statusDecisions.get(status);
  if (!d) {
    d = { kind: 'status', status };
    statusDecisions.set(status, d);
  }
  return d;
}

/** Scans the raw body text; the indexOf fast path keeps marker-free traffic (the benchmark) cheap. */
export function parseMarkers(raw: string): Markers {
  if (raw.indexOf(MARKER_PREFIX) === -1) return NO_MARKERS;
  const faults: FaultMarker[] = [];
  for (const m of raw.matchAll(FAULT_RE)) {
    const token = m[1];
    let action: FaultDecision;
    if (token === 'timeout') action = TIMEOUT;
    else if (token === 'reset') action = RESET;
    else {
      const status = Number(token);
      // Only error codes make sense as faults; anything else is ignored rather than guessed at.
      if (status < 400 || status > 599) continue;
      action = statusDecision(status);
    }
    faults.push({ action, times: m[2] === undefined ? undefined : Number(m[2]) });
  }
  const delay = DELAY_RE.exec(raw);
  const pad = PAD_RE.exec(raw);
  return {
    faults,
    delayMs: delay ? Number(delay[1]) : undefined,
    badJson: raw.includes('#sim:badjson'),
    flag: raw.includes('#sim:flag'),
    padChars: pad ? Math.min(Number(pad[1]), MAX_PAD_CHARS) : 0,
  };
}

/**
 * Applies the fault markers to the given 1-based attempt. Markers are consumed in body order:
 * `#sim:500x1 #sim:429x2` answers 500, 429, 429, then succeeds; a marker without `xN` covers every
 * remaining attempt.
 */
export function markerFault(markers: Markers, attempt: number): FaultDecision | undefined {
  let covered = 0;
  for (const f of markers.faults) {
    if (f.times === undefined) return f.action;
    covered += f.times;
    if (attempt <= covered) return f.action;
  }
  return undefined;
}

/** FNV-1a 32-bit: cheap, stable across runs and platforms. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3 finaliser so nearby inputs (attempt 1 vs 2) give unrelated outputs. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Deterministic uniform draw in [0, 1) for (record key, attempt, salt). */
export function uniform(recordKey: string, attempt: number, salt = 0): number {
  return mix(fnv1a(recordKey) ^ Math.imul(attempt + 1, 0x9e3779b1) ^ salt) / 0x1_0000_0000;
}

/**
 * Rate-based faults: one draw per (record, attempt), partitioned by the configured rates in the order
 * 409, 429, 500, timeout. The draw changes with the attempt, so a faulted record usually succeeds on retry.
 */
export function rateFault(settings: SimulatorSettings, recordKey: string, attempt: number): FaultDecision {
  const { faultRate409, faultRate429, faultRate500, faultRateTimeout } = settings;
  if (faultRate409 + faultRate429 + faultRate500 + faultRateTimeout === 0) return OK;
  const u = uniform(recordKey, attempt);
  let edge = faultRate409;
  if (u < edge) return statusDecision(409);
  edge += faultRate429;
  if (u < edge) return statusDecision(429);
  edge += faultRate500;
  if (u < edge) return statusDecision(500);
  edge += faultRateTimeout;
  if (u < edge) return TIMEOUT;
  return OK;
}

/** Jitter from a second, independent draw so it does not correlate with the fault draw. */
export function jitterFor(settings: SimulatorSettings, recordKey: string, attempt: number): number {
  return settings.jitterMs > 0 ? uniform(recordKey, attempt, 0x5bd1e995) * settings.jitterMs : 0;
}
