// A local webhook receiver for the tests: verifies every attempt with the Standard Webhooks
// library, answers what the test says (a status per attempt), and keeps every attempt it saw.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface WebhookAttempt {
  headers: IncomingHttpHeaders;
  body: string;
  /** The signature checked out (with the receiver's secret, within the library's 5-minute tolerance). */
  verified: boolean;
  /** What the receiver answered. */
  status: number;
  at: number;
}

export interface WebhookReceiver {
  url: string;
  secret: string;
  attempts: WebhookAttempt[];
  /** The status to answer an attempt with, given how many attempts of its webhook-id came before (default 200). */
  answer: (previous: number, attempt: WebhookAttempt) => number;
  /** Attempts of one event (by `webhook-id`), or of the events naming one batch. */
  forBatch(batchId: string): WebhookAttempt[];
  /** Waits until an attempt for the batch was accepted (2xx) and returns it. */
  accepted(batchId: string, timeoutMs?: number): Promise<WebhookAttempt>;
  close(): Promise<void>;
}

/** A fresh `whsec_` secret (32 random bytes). */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

export async function startWebhookReceiver(secret = newWebhookSecret()): Promise<WebhookReceiver> {
  const hook = new Webhook(secret);
  const attempts: WebhookAttempt[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    secret,
    attempts,
    answer: () => 200,
    forBatch: (batchId) =>
      attempts.filter((a) => {
        try {
          return (JSON.parse(a.body) as { data?: { id?: string } }).data?.id === batchId;
        } catch {
          return false;
        }
      }),
    async accepted(batchId, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ok = receiver.forBatch(batchId).find((a) => a.status >= 200 && a.status < 300);
        if (ok) return ok;
        if (Date.now() > deadline)
          throw new Error(
            `no accepted webhook for ${batchId} in ${timeoutMs} ms (${attempts.length} attempts seen)`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => new Promise((res) => server.close(() => res())),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try {
        hook.verify(body, req.headers as Record<string, string>);
        verified = true;
      } catch {
        verified = false;
      }
      const attempt: WebhookAttempt = { headers: req.headers, body, verified, status: 0, at: Date.now() };
      const id = req.headers['webhook-id'];
      const previous = attempts.filter((a) => a.headers['webhook-id'] === id).length;
      attempt.status = verified ? receiver.answer(previous, attempt) : 400;
      attempts.push(attempt);
      res.writeHead(attempt.status).end();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/batches`;
  return receiver;
}
