// The batch event as a zod schema: the single description of what a webhook receiver gets, for the
// OpenAPI document (its `webhooks`) and the tests. Not in event.ts: workflow code imports that file.
import { z } from 'zod';
import { BATCH_ID_PATTERN } from '../ids';
import { WEBHOOK_EVENT_TYPES } from './event';

export const WebhookEventSchema = z
  .object({
    id: z
      .string()
      .regex(/^evt_[0-9a-f]{32}$/)
      .describe('The event id, also its `webhook-id` header: the same on every attempt (deduplicate on it).'),
    object: z.literal('event'),
    type: z.enum(WEBHOOK_EVENT_TYPES).describe('The terminal status the batch reached.'),
    created_at: z
      .number()
      .int()
      .describe(
        'Unix seconds the batch reached it (its `completed_at`, `failed_at`, `expired_at` or `cancelled_at`).',
      ),
    data: z.object({ id: z.string().regex(BATCH_ID_PATTERN).describe('The batch.') }).strict(),
  })
  .strict()
  .describe(
    "Sent by POST to the batch's webhook when it ends, signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`); a 2xx answer delivers it, 410 stops delivery, anything else is retried.",
  );
export type WebhookEventBody = z.infer<typeof WebhookEventSchema>;
