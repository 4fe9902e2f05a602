// Webhooks (README "Webhooks"): each terminal status sends its event, signed per Standard Webhooks,
// at least once with one webhook-id across retries, to a receiver that verifies it with the
// library (and with both official openai clients), without holding up the batch's status.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import OpenAI from 'openai';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBatch } from 'temporal-batch-gateway/client';
import { WebhookEventSchema } from '../src/webhooks/event-schema';
import { chatLine, createBatch, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';
import { webhookDelivery } from './harness/webhook-delivery';
import { startWebhookReceiver, type WebhookAttempt, type WebhookReceiver } from './harness/webhook-receiver';

let stack: Stack;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  stack = await startStack({
    WEBHOOK_URL: receiver.url,
    WEBHOOK_SECRET: receiver.secret,
    // Short waits between attempts: 200 ms, 400 ms, … at most 1 s.
    WEBHOOK_RETRY_INITIAL_MS: '200',
    WEBHOOK_RETRY_MAX_MS: '1000',
    COMPLETION_WINDOWS: '24h,3s',
    MODEL_CONCURRENCY: '2',
  });
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const lines = (prefix: string, n: number, marker = '') =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, 'gpt-4o-mini', `${prefix} ${i} ${marker}`));

/** The event an attempt carried, checked for OpenAI's shape: exactly these fields, in this order. */
function eventOf(attempt: WebhookAttempt) {
  const event = JSON.parse(attempt.body) as {
    id: string;
    object: string;
    type: string;
    created_at: number;
    data: { id: string };
  };
  expect(Object.keys(event)).toEqual(['id', 'object', 'type', 'created_at', 'data']);
  expect(Object.keys(event.data)).toEqual(['id']);
  expect(event.object).toBe('event');
  expect(event.id).toMatch(/^evt_[0-9a-f]{32}$/);
  // The schema the OpenAPI document describes it with.
  expect(WebhookEventSchema.parse(event)).toEqual(event);
  return event;
}

/** Every attempt for the batch carried one event: same webhook-id, same body, each signed and verified. */
function oneEvent(batchId: string): WebhookAttempt[] {
  const attempts = receiver.forBatch(batchId);
  expect(attempts.length).toBeGreaterThan(0);
  expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
  expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
  for (const a of attempts) {
    expect(a.verified).toBe(true);
    expect(a.headers['content-type']).toBe('application/json');
    expect(a.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(a.headers['webhook-timestamp']).toMatch(/^\d+$/);
    expect(eventOf(a).id).toBe(a.headers['webhook-id']);
  }
  expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
  return attempts;
}

const history = async (workflowId: string) =>
  JSON.stringify((await stack.client.workflow.getHandle(workflowId).fetchHistory()).events);

describe('webhooks', () => {
  it('batch.completed: retried after two 503s with one webhook-id, accepted once, verifiable by the library and both openai clients', async () => {
    receiver.answer = (previous) => (previous < 2 ? 503 : 200);
    const created = await createBatch(stack.openai, lines('ok', 3));
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    const accepted = await receiver.accepted(batch.id);
    const attempts = oneEvent(batch.id);
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 200]);
    // Each attempt is signed anew with its own timestamp (a receiver rejects stale ones).
    const stamps = attempts.map((a) => Number(a.headers['webhook-timestamp']));
    expect(Math.abs(stamps[2] - Date.now() / 1000)).toBeLessThan(60);
    const event = eventOf(accepted);
    expect(event).toEqual({
      id: accepted.headers['webhook-id'],
      object: 'event',
      type: 'batch.completed',
      created_at: batch.completed_at,
      data: { id: batch.id },
    });

    // A tampered body (or a wrong secret) fails verification.
    const headers = accepted.headers as Record<string, string>;
    const hook = new Webhook(receiver.secret);
    expect(hook.verify(accepted.body, headers)).toEqual(event);
    const tampered = accepted.body.replace('batch.completed', 'batch.cancelled');
    expect(() => hook.verify(tampered, headers)).toThrow(/signature/i);
    const otherSecret = new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`);
    expect(() => otherSecret.verify(accepted.body, headers)).toThrow(/signature/i);

    // OpenAI's own webhook helpers accept it as a batch event (Node, then Python).
    const client = new OpenAI({ apiKey: 'unused', webhookSecret: receiver.secret });
    const unwrapped = await client.webhooks.unwrap(accepted.body, headers);
    expect(unwrapped).toMatchObject({ type: 'batch.completed', data: { id: batch.id } });
    await expect(client.webhooks.unwrap(tampered, headers)).rejects.toThrow();
    const python = `
import json, sys
from openai import OpenAI
body, headers, secret = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
event = OpenAI(api_key="unused").webhooks.unwrap(body, headers, secret=secret)
print(json.dumps({"type": event.type, "id": event.data.id}))
`;
    const { stdout } = await promisify(execFile)('.venv/bin/python', [
      '-c',
      python,
      accepted.body,
      JSON.stringify(headers),
      receiver.secret,
    ]);
    expect(JSON.parse(stdout)).toEqual({ type: 'batch.completed', id: batch.id });

    // Delivered means done: no attempt after the accepted one.
    await sleep(2500);
    expect(receiver.forBatch(batch.id)).toHaveLength(3);
    // The delivery ran as the batch's detached child; neither history holds the URL or the secret.
    const child = await stack.client.workflow.getHandle(`${batch.id}-webhook`).describe();
    expect(child.status.name).toBe('COMPLETED');
    for (const id of [batch.id, `${batch.id}-webhook`]) {
      const text = await history(id);
      expect(text).not.toContain(receiver.secret.slice('whsec_'.length, 30));
      expect(text).not.toContain(receiver.url);
    }
  });

  it('batch.failed: a batch that fails validation', async () => {
    receiver.answer = () => 200;
    const file = await uploadJsonl(stack.openai, 'not json\n');
    const created = await stack.openai.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    });
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('failed');
    const event = eventOf(await receiver.accepted(batch.id));
    expect(event).toMatchObject({
      type: 'batch.failed',
      created_at: batch.failed_at,
      data: { id: batch.id },
    });
    oneEvent(batch.id);
  });

  it('batch.cancelled: a batch cancelled while it runs', async () => {
    receiver.answer = () => 200;
    const created = await createBatch(stack.openai, lines('cancel', 8, '#sim:delay=1500'));
    await waitForBatch(stack.openai, created.id, (b) => b.status === 'in_progress');
    await stack.openai.batches.cancel(created.id);
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('cancelled');
    const event = eventOf(await receiver.accepted(batch.id));
    expect(event).toMatchObject({
      type: 'batch.cancelled',
      created_at: batch.cancelled_at,
      data: { id: batch.id },
    });
    oneEvent(batch.id);
  });

  it('batch.expired: a batch whose 3 s window ends first', async () => {
    receiver.answer = () => 200;
    const created = await createBatch(stack.openai, lines('expire', 8, '#sim:delay=1500'), {
      completion_window: '3s',
    });
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('expired');
    const event = eventOf(await receiver.accepted(batch.id));
    expect(event).toMatchObject({
      type: 'batch.expired',
      created_at: batch.expired_at,
      data: { id: batch.id },
    });
    oneEvent(batch.id);
  });

  it('never holds up the terminal status: the batch reads completed while the receiver is down', async () => {
    let down = true;
    receiver.answer = () => (down ? 503 : 200);
    const created = await createBatch(stack.openai, lines('down', 2));
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    // Attempts keep failing meanwhile; the batch is closed and reads the same.
    await sleep(2000);
    const failing = receiver.forBatch(batch.id);
    expect(failing.length).toBeGreaterThanOrEqual(2);
    expect(failing.every((a) => a.status === 503)).toBe(true);
    expect((await stack.openai.batches.retrieve(batch.id)).status).toBe('completed');
    expect((await stack.client.workflow.getHandle(batch.id).describe()).status.name).toBe('COMPLETED');
    down = false;
    await receiver.accepted(batch.id);
    oneEvent(batch.id);
  });

  it("a batch started from Temporal sends its event to the worker's WEBHOOK_URL", async () => {
    receiver.answer = () => 200;
    const file = await uploadJsonl(stack.openai, toJsonl(lines('direct', 2)));
    const result = await runBatch(
      stack.client,
      { input_file_id: file.id, endpoint: '/v1/chat/completions' },
      { workflowId: `nightly-${Date.now()}`, taskQueue: stack.config.TEMPORAL_TASK_QUEUE },
    );
    expect(result.status).toBe('completed');
    const event = eventOf(await receiver.accepted(result.id));
    expect(event).toMatchObject({ type: 'batch.completed', data: { id: result.id } });
    oneEvent(result.id);
  });

  it('a redirect is retried, not followed; 410 Gone stops delivery (the delivery fails visibly, the batch does not)', async () => {
    receiver.answer = (previous) => (previous === 0 ? 307 : 410);
    const created = await createBatch(stack.openai, lines('gone', 1));
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    const handle = await webhookDelivery(stack.client, batch.id);
    const failure = await handle.result().then(
      () => null,
      (err: unknown) => err as WorkflowFailedError,
    );
    expect(failure?.cause?.message).toMatch(/answered 410 \(Gone\): no more attempts/);
    const { status } = await handle.describe();
    expect(status.name).toBe('FAILED');
    await sleep(2000);
    const attempts = receiver.forBatch(batch.id);
    expect(attempts.map((a) => a.status)).toEqual([307, 410]);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect((await stack.openai.batches.retrieve(batch.id)).status).toBe('completed');
  });

  it('a custom_id or model named like a prototype key changes nothing', async () => {
    receiver.answer = () => 200;
    const created = await createBatch(stack.openai, [
      chatLine('__proto__', 'constructor', 'a'),
      chatLine('constructor', '__proto__', 'b'),
    ]);
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    expect(eventOf(await receiver.accepted(batch.id)).type).toBe('batch.completed');
    oneEvent(batch.id);
  });
});
