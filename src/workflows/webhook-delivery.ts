import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  patched,
  proxyActivities,
  startChild,
  uuid4,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import type { Batch } from '../domain/batch';
import { eventTypeOf, type WebhookDeliveryInput } from '../webhooks/event';
import type { WebhookDeliveryResult } from '../webhooks/deliver';

/** Batches that end with a webhook configured start its delivery (README, "Changing workflow code"). */
export const WEBHOOK_DELIVERY = 'webhook-delivery';

const { deliverWebhook } = proxyActivities<BatchActivities>({
  // The POST itself times out after WEBHOOK_TIMEOUT_MS (at most 60 s); heartbeats every 2 s.
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  // The activity sets each wait itself (nextRetryDelay, from the worker's WEBHOOK_RETRY_*) and
  // decides when to give up; these apply only after a timeout (a worker that died mid-attempt).
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});

/**
 * Delivers one batch event to the batch's webhook, at least once: attempts are retries of one
 * activity, so they survive worker crashes and cost no history events while the receiver fails.
 */
export async function webhookDeliveryWorkflow(input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> {
  try {
    return await deliverWebhook(input);
  } catch (err) {
    // The delivery failed for good (410 Gone, or past WEBHOOK_RETRY_FOR_MS): visible as Failed.
    const cause = err instanceof ActivityFailure && err.cause ? err.cause : err;
    if (cause instanceof ApplicationFailure)
      throw ApplicationFailure.create({
        message: cause.message,
        type: cause.type ?? undefined,
        nonRetryable: true,
      });
    throw err;
  }
}

/**
 * From the batch workflow once the terminal status is in the memo: starts the delivery of its
 * event as a detached child, so the batch closes at once and the delivery outlives it. Only for a
 * batch with a webhook (none: no marker, no command). The event id is minted here, once, so every
 * attempt carries the same `webhook-id`; the child's workflow id is the batch id's, so a batch
 * never starts two deliveries.
 */
export async function startWebhookDelivery(
  tenant: string,
  batch: Batch,
  webhookKey: string | null | undefined,
): Promise<void> {
  const type = eventTypeOf(batch.status);
  if (!webhookKey || !type || !patched(WEBHOOK_DELIVERY)) return;
  const input: WebhookDeliveryInput = {
    tenant,
    event: {
      id: `evt_${uuid4().replace(/-/g, '')}`,
      object: 'event',
      type,
      created_at: terminalAt(batch),
      data: { id: batch.id },
    },
    targetKey: webhookKey,
  };
  try {
    await startChild(webhookDeliveryWorkflow, {
      workflowId: `${batch.id}-webhook`,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch {
    // Already started (the batch's history reset and replayed past its end): that one delivers.
  }
}

/** When the batch reached its terminal status (its `<status>_at`), as OpenAI's event says. */
function terminalAt(batch: Batch): number {
  const at = { completed: batch.completed_at, failed: batch.failed_at, expired: batch.expired_at }[
    batch.status as 'completed' | 'failed' | 'expired'
  ];
  return at ?? batch.cancelled_at ?? Math.floor(Date.now() / 1000);
}
