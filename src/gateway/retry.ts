// The one place that decides what is retried and how long to wait (design §6, the error table).

export type StatusClass = 'success' | 'blocked' | 'auth' | 'retryable' | 'final';

/** 409 is a policy block and 401/403 bad credentials: never retried. 429, 408 and 5xx are. */
export function classifyStatus(status: number): StatusClass {
  if (status >= 200 && status < 300) return 'success';
  if (status === 409) return 'blocked';
  if (status === 401 || status === 403) return 'auth';
  if (status === 429 || status === 408 || status >= 500) return 'retryable';
  return 'final';
}

/** `Retry-After` as delta-seconds or an HTTP-date, in milliseconds from `nowMs`; null when absent or unparseable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  const trimmed = v.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^(attempt-1))]. attempt is 1-based. */
export function backoffDelay(
  attempt: number,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** The wait before the next attempt: the gateway's Retry-After when given (capped), else backoff. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | null,
  policy: BackoffPolicy,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== null) return Math.min(retryAfterMs, policy.maxMs);
  return backoffDelay(attempt, policy, random);
}
