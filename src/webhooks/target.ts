import { createHash } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { z } from 'zod';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import type { SecretBox } from '../security/secret-box';

/** Where a batch's events go and the secret they are signed with (Standard Webhooks, symmetric). */
export interface WebhookTarget {
  url: string;
  secret: string;
}

/** Standard Webhooks: a symmetric secret is `whsec_` and the base64 of 24 to 64 random bytes. */
const SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/** Checks a `whsec_…` secret as the signing library reads it; the message never repeats the secret. */
export const WebhookSecret = z.string().refine((s) => {
  if (!SECRET_FORMAT.test(s)) return false;
  const bytes = Buffer.from(s.slice('whsec_'.length), 'base64').length;
  if (bytes < 24 || bytes > 64) return false;
  try {
    new Webhook(s);
    return true;
  } catch {
    return false;
  }
}, 'must be whsec_ followed by the base64 of 24 to 64 bytes (Standard Webhooks)');

/** An http(s) URL: events are POSTed there. */
export const WebhookUrl = z
  .url()
  .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL');

/** The deployment's webhook (WEBHOOK_URL + WEBHOOK_SECRET), or null when none is set. */
export function deploymentWebhook(config: {
  WEBHOOK_URL?: string;
  WEBHOOK_SECRET?: string;
}): WebhookTarget | null {
  return config.WEBHOOK_URL && config.WEBHOOK_SECRET
    ? { url: config.WEBHOOK_URL, secret: config.WEBHOOK_SECRET }
    : null;
}

/**
 * At batch creation: the batch's webhook, sealed into storage like pass-through headers; returns
 * the storage key, the only thing the workflow sees (history never holds the URL or the secret).
 * The key is the tenant's, named by a digest of URL and secret (which tells nothing of a secret of
 * 24+ random bytes): batches with the same webhook share one object, a replay (which reuses its
 * original's options) finds it, and nothing under the batch's own prefix can take it away.
 */
export async function sealWebhookTarget(
  store: ObjectStore,
  box: SecretBox,
  tenant: string,
  target: WebhookTarget,
): Promise<string> {
  const digest = createHash('sha256')
    .update(`batch-gateway webhook\n${target.url}\n${target.secret}`)
    .digest('hex')
    .slice(0, 32);
  const key = layout.webhookTarget(tenant, digest);
  await store.put(key, box.seal(JSON.stringify(target)));
  return key;
}

/** In a worker: the sealed webhook of a batch, or null when the object is gone. */
export async function openWebhookTarget(
  store: ObjectStore,
  box: SecretBox,
  key: string,
): Promise<WebhookTarget | null> {
  const sealed = await store.get(key);
  return sealed ? (JSON.parse(box.open(sealed)) as WebhookTarget) : null;
}
