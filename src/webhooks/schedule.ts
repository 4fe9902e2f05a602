// When the next delivery attempt goes out, and when delivery gives up (README "Webhooks").

export interface WebhookSchedule {
  /** Wait after the first failed attempt (WEBHOOK_RETRY_INITIAL_MS); doubles after each one. */
  initialMs: number;
  /** Longest wait between two attempts (WEBHOOK_RETRY_MAX_MS), Retry-After included. */
  maxMs: number;
  /** No attempt starts later than this after the first (WEBHOOK_RETRY_FOR_MS). */
  forMs: number;
}

/**
 * The wait after failed attempt `attempt` (1-based): initial·2^(attempt-1), at most maxMs, with
 * ±20 % jitter so the receivers of many batches that failed together are not hit at once; a
 * longer Retry-After of the receiver is honoured up to maxMs.
 */
export function nextAttemptDelay(
  attempt: number,
  schedule: Pick<WebhookSchedule, 'initialMs' | 'maxMs'>,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const base = Math.min(schedule.maxMs, schedule.initialMs * 2 ** Math.min(40, Math.max(0, attempt - 1)));
  const jittered = Math.round(base * (0.8 + 0.4 * random()));
  return Math.min(schedule.maxMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** True when an attempt `delayMs` from now would start past the schedule's end (`elapsedMs` since the first). */
export const pastSchedule = (elapsedMs: number, delayMs: number, schedule: Pick<WebhookSchedule, 'forMs'>) =>
  elapsedMs + delayMs > schedule.forMs;
