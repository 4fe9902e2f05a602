import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayClient } from './client';
import { TransportError } from './client';
import { activeTracing } from '../observability/tracing';
import { tracedGatewayPost } from '../observability/tracing-gateway';
import type { BackoffPolicy, StatusClass } from './retry';
import { backoffDelay, classifyStatus, parseRetryAfter, retryDelay } from './retry';

export type RequestOutcome =
  /** The gateway answered and we stop there (2xx, 409, 401/403, other 4xx, or retries used up). */
  | {
      kind: 'response';
      status: number;
      statusClass: StatusClass;
      requestId: string | null;
      headers: Record<string, string | string[] | undefined>;
      text: string;
      attempts: number;
    }
  /** No HTTP answer after every attempt (timeouts, refused or reset connections). */
  | { kind: 'transport_error'; code: 'request_timeout' | 'request_failed'; message: string; attempts: number }
  /** Stopped between attempts (cancel, halt, budget): no result, the caller records it as not run. */
  | { kind: 'aborted'; attempts: number };

export interface ExecuteOptions {
  maxAttempts: number;
  /** No retry starts later than this many ms after the first attempt was sent (0: no limit). */
  maxElapsedMs?: number;
  backoff: BackoffPolicy;
  headers: Record<string, string>;
  /** The batch's tenant, sent as GATEWAY_TENANT_HEADER by the client (set last, never from `headers`). */
  tenant?: string;
  /** Aborting stops further attempts; an attempt already sent is allowed to finish. */
  stop?: AbortSignal;
  random?: () => number;
  /**
   * Told of every attempt's answer (its HTTP status, or 'transport' when there was none) and when it
   * was sent (performance.now()), so adaptive concurrency sees each 429/5xx, not only the last.
   */
  onAttempt?: (result: number | 'transport', sentAt: number) => void;
  /**
   * Replaces the wait before a retry (default: sleep, ended by `stop`), so the caller can give its
   * capacity back while waiting and take it again before the retry. A rejection ends as `aborted`.
   */
  retryWait?: (ms: number) => Promise<void>;
  /** For the attempt's span when tracing is on (never sent upstream by this option). */
  trace?: { model: string; batchId: string };
  /** Told of each attempt as it is sent and answered (metrics: in flight, by status, retries). */
  observer?: AttemptObserver;
  /**
   * Told of each attempt once answered, with its timing (the record's debugging view); awaited
   * before the retry wait when the attempt will be retried, so the caller may store it first.
   */
  onAttemptDone?: (attempt: AttemptTiming, willRetry: boolean) => void | Promise<void>;
}

/** One attempt's wall-clock timing and answer: an HTTP status, or the transport error instead. */
export interface AttemptTiming {
  startedAtMs: number;
  durationMs: number;
  status: number | null;
  error: { code: 'request_timeout' | 'request_failed'; message: string } | null;
  /** The gateway's Retry-After, in ms; null when it sent none. */
  retryAfterMs: number | null;
}

/** Sees every attempt: `sent` before it goes out, then exactly one `answered`. */
export interface AttemptObserver {
  sent(attempt: number): void;
  /** The HTTP status; `timeout` / `connection_error` without an answer; `error` for anything else thrown. */
  answered(result: number | 'timeout' | 'connection_error' | 'error'): void;
}

const header = (h: Record<string, string | string[] | undefined>, name: string): string | null => {
  const v = h[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
};

/** Sends one request, retrying retryable answers with Retry-After or exponential backoff with full jitter. */
export async function executeRequest(
  client: GatewayClient,
  path: string,
  body: string,
  opts: ExecuteOptions,
): Promise<RequestOutcome> {
  const firstSentAt = Date.now();
  // The last attempt: attempts used up, or the next one would start past the elapsed-time limit.
  const isLast = (attempt: number, wait: number) =>
    attempt >= opts.maxAttempts ||
    (!!opts.maxElapsedMs && Date.now() - firstSentAt + wait > opts.maxElapsedMs);
  for (let attempt = 1; ; attempt++) {
    let wait: number;
    const sentAt = opts.onAttempt || opts.onAttemptDone ? performance.now() : 0;
    const startedAtMs = opts.onAttemptDone ? Date.now() : 0;
    let timing: AttemptTiming | null = null;
    opts.observer?.sent(attempt);
    try {
      // With tracing on, each attempt is a span and sends its `traceparent`; off, no work at all.
      const res = await (activeTracing()
        ? tracedGatewayPost(client, path, body, opts.headers, opts.tenant, { ...opts.trace, attempt })
        : client.post(path, body, opts.headers, opts.tenant));
      opts.observer?.answered(res.status);
      opts.onAttempt?.(res.status, sentAt);
      const statusClass = classifyStatus(res.status);
      const retryAfterMs =
        statusClass === 'retryable' || opts.onAttemptDone
          ? parseRetryAfter(res.headers['retry-after'], Date.now())
          : null;
      wait = statusClass === 'retryable' ? retryDelay(attempt, retryAfterMs, opts.backoff, opts.random) : 0;
      if (opts.onAttemptDone) {
        const durationMs = Math.ceil(performance.now() - sentAt);
        timing = { startedAtMs, durationMs, status: res.status, error: null, retryAfterMs };
      }
      if (statusClass !== 'retryable' || isLast(attempt, wait)) {
        // Awaited only when it returns a promise: no extra tick on the hot path.
        const told = timing && opts.onAttemptDone!(timing, false);
        if (told) await told;
        return {
          kind: 'response',
          status: res.status,
          statusClass,
          requestId: header(res.headers, 'x-request-id'),
          headers: res.headers,
          text: res.text,
          attempts: attempt,
        };
      }
    } catch (err) {
      const transport = err instanceof TransportError;
      opts.observer?.answered(
        transport ? (err.kind === 'timeout' ? 'timeout' : 'connection_error') : 'error',
      );
      if (!transport) throw err;
      opts.onAttempt?.('transport', sentAt);
      wait = backoffDelay(attempt, opts.backoff, opts.random);
      const code = err.kind === 'timeout' ? 'request_timeout' : 'request_failed';
      if (opts.onAttemptDone) {
        const durationMs = Math.ceil(performance.now() - sentAt);
        timing = {
          startedAtMs,
          durationMs,
          status: null,
          error: { code, message: err.message },
          retryAfterMs: null,
        };
      }
      if (isLast(attempt, wait)) {
        const told = timing && opts.onAttemptDone!(timing, false);
        if (told) await told;
        return {
          kind: 'transport_error',
          code,
          message: `${err.message} (after ${attempt} attempts)`,
          attempts: attempt,
        };
      }
    }
    if (timing) await opts.onAttemptDone!(timing, true);
    if (opts.stop?.aborted) return { kind: 'aborted', attempts: attempt };
    try {
      await (opts.retryWait ? opts.retryWait(wait) : sleep(wait, undefined, { signal: opts.stop }));
    } catch {
      return { kind: 'aborted', attempts: attempt };
    }
  }
}
