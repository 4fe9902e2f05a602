// What a webhook says, in OpenAI's event shape. No Node built-ins: the workflows import it too.
import type { BatchStatus } from '../domain/batch';

export const WEBHOOK_EVENT_TYPES = [
  'batch.completed',
  'batch.failed',
  'batch.expired',
  'batch.cancelled',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `{id, object: "event", type, created_at, data: {id}}`, as OpenAI's webhooks send it. */
export interface WebhookEvent {
  id: string;
  object: 'event';
  type: WebhookEventType;
  created_at: number;
  data: { id: string };
}

/** The event of a terminal status; null for any other status. */
export function eventTypeOf(status: BatchStatus): WebhookEventType | null {
  switch (status) {
    case 'completed':
    case 'failed':
    case 'expired':
    case 'cancelled':
      return `batch.${status}`;
    default:
      return null;
  }
}

/**
 * What the delivery workflow is given: the event itself (its id minted once by the batch
 * workflow, so every attempt carries the same `webhook-id`) and the storage key of the sealed
 * target. Neither the URL nor the secret ever enters workflow history.
 */
export interface WebhookDeliveryInput {
  tenant: string;
  event: WebhookEvent;
  targetKey: string;
}

/** The body every attempt sends, byte for byte (the signature covers it). */
export const eventBody = (event: WebhookEvent): string =>
  JSON.stringify({
    id: event.id,
    object: event.object,
    type: event.type,
    created_at: event.created_at,
    data: { id: event.data.id },
  });
