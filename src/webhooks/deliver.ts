import { ApplicationFailure, Context } from '@temporalio/activity';
import { Webhook } from 'standardwebhooks';
import type { ActivityRuntime } from '../activities/runtime';
import { parseRetryAfter } from '../gateway/retry';
import { observeWebhookDelivery } from '../observability/metrics-worker';
import { secretBoxFor } from '../security/secret-box';
import { eventBody, type WebhookDeliveryInput } from './event';
import { nextAttemptDelay, pastSchedule } from './schedule';
import { openWebhookTarget, type WebhookTarget } from './target';

/** Failure types of an attempt (retried) and of a delivery that ends without the event accepted. */
export const WEBHOOK_NOT_ACCEPTED = 'WebhookNotAccepted';
export const WEBHOOK_GAVE_UP = 'WebhookGaveUp';

export interface WebhookDeliveryResult {
  /** The receiver's 2xx status. */
  status: number;
  /** Attempts it took, this one included. */
  attempts: number;
}

/** How an attempt ended: the receiver's status (and Retry-After), or why there was none. */
type Answer = { status: number; retryAfterMs: number | null } | { status: null; problem: string };

/**
 * One delivery attempt of a batch event (Standard Webhooks): signed anew with this attempt's
 * timestamp, the same `webhook-id` every time. A 2xx delivers it. 410 Gone says the receiver wants
 * no more events: delivery stops. Anything else (3xx, which is not followed, any 4xx or 5xx, a
 * timeout, a refused connection) fails the attempt; Temporal runs the next one after the wait this
 * worker's schedule gives (`nextRetryDelay`), until WEBHOOK_RETRY_FOR_MS after the first attempt.
 */
export async function deliverWebhook(
  rt: ActivityRuntime,
  input: WebhookDeliveryInput,
): Promise<WebhookDeliveryResult> {
  const ctx = Context.current();
  const { attempt, scheduledTimestampMs } = ctx.info;
  // A worker killed mid-attempt is noticed within the heartbeat timeout, not at the attempt's end.
  const beat = setInterval(() => ctx.heartbeat(), 2000);
  let answer: Answer;
  try {
    answer = await attemptOnce(rt, input, ctx.cancellationSignal);
  } finally {
    clearInterval(beat);
  }
  if (answer.status !== null && answer.status >= 200 && answer.status < 300) {
    observeWebhookDelivery('delivered');
    return { status: answer.status, attempts: attempt };
  }
  const event = `${input.event.type} ${input.event.id}`;
  const what = answer.status !== null ? `the receiver answered ${answer.status}` : answer.problem;
  if (answer.status === 410) {
    observeWebhookDelivery('gone');
    throw ApplicationFailure.create({
      message: `${event}: ${what} (Gone): no more attempts`,
      type: WEBHOOK_GAVE_UP,
      nonRetryable: true,
    });
  }
  const schedule = {
    initialMs: rt.config.WEBHOOK_RETRY_INITIAL_MS,
    maxMs: rt.config.WEBHOOK_RETRY_MAX_MS,
    forMs: rt.config.WEBHOOK_RETRY_FOR_MS,
  };
  const delay = nextAttemptDelay(attempt, schedule, answer.status !== null ? answer.retryAfterMs : null);
  if (pastSchedule(Date.now() - scheduledTimestampMs, delay, schedule)) {
    observeWebhookDelivery('gave_up');
    throw ApplicationFailure.create({
      message: `${event}: ${what} at attempt ${attempt}; gave up, ${Math.round(schedule.forMs / 1000)} s after the first`,
      type: WEBHOOK_GAVE_UP,
      nonRetryable: true,
    });
  }
  observeWebhookDelivery('failed');
  throw ApplicationFailure.create({
    message: `${event}: ${what} at attempt ${attempt}; next attempt in ${delay} ms`,
    type: WEBHOOK_NOT_ACCEPTED,
    nextRetryDelay: delay,
  });
}

/** Reads the batch's target and POSTs the event to it once. */
async function attemptOnce(
  rt: ActivityRuntime,
  input: WebhookDeliveryInput,
  cancelled: AbortSignal,
): Promise<Answer> {
  let target: WebhookTarget | null;
  try {
    target = await openWebhookTarget(rt.store, secretBoxFor(rt.config), input.targetKey);
  } catch (err) {
    // Storage down, or a SECRETS_KEY that does not open it: a failed attempt, retried on the
    // schedule until delivery gives up (not forever).
    return { status: null, problem: `the webhook settings cannot be read (${(err as Error).message})` };
  }
  if (!target) {
    observeWebhookDelivery('gave_up');
    throw ApplicationFailure.create({
      message: `the batch's webhook settings are gone from storage (${input.targetKey})`,
      type: WEBHOOK_GAVE_UP,
      nonRetryable: true,
    });
  }
  return post(target, input, rt.config.WEBHOOK_TIMEOUT_MS, cancelled);
}

/** POSTs the signed event once; never throws for what the receiver or the network did. */
async function post(
  target: WebhookTarget,
  input: WebhookDeliveryInput,
  timeoutMs: number,
  cancelled: AbortSignal,
): Promise<Answer> {
  const body = eventBody(input.event);
  const now = new Date();
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'temporal-batch-gateway',
        'webhook-id': input.event.id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': new Webhook(target.secret).sign(input.event.id, now, body),
      },
      body,
      // Standard Webhooks: a redirect is a failure (the URL should be updated), not followed.
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), cancelled]),
    });
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after') ?? undefined, Date.now());
    await res.body?.cancel().catch(() => undefined);
    return { status: res.status, retryAfterMs };
  } catch (err) {
    if (cancelled.aborted) throw err;
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    return { status: null, problem: timedOut ? `no answer within ${timeoutMs} ms` : connectionProblem(err) };
  }
}

/** A failed fetch's reason without its stack (undici puts the socket error in `cause`). */
function connectionProblem(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return `no connection (${cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err))})`;
}
