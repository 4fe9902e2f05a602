// Delivery survives the worker: a worker killed with SIGKILL while an event waits for its next
// attempt (the receiver answered 503) → a new worker delivers it, once, with the same webhook-id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { chatLine, createBatch, waitForBatch } from '../harness/batches';
import { startProcessStack, type ProcessStack } from '../harness/process-stack';
import { startWebhookReceiver, type WebhookReceiver } from '../harness/webhook-receiver';

let stack: ProcessStack;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  stack = await startProcessStack({
    temporalAddress: inject('temporalAddress'),
    workers: 1,
    env: {
      WEBHOOK_URL: receiver.url,
      WEBHOOK_SECRET: receiver.secret,
      // 3.2–4.8 s before the second attempt: time to kill the worker in between.
      WEBHOOK_RETRY_INITIAL_MS: '4000',
      WEBHOOK_RETRY_MAX_MS: '4000',
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('webhook delivery across a worker crash', () => {
  it('is delivered once by a new worker after the one holding it was killed', async () => {
    let up = false;
    receiver.answer = () => (up ? 200 : 503);
    const created = await createBatch(
      stack.openai,
      Array.from({ length: 3 }, (_, i) => chatLine(`r-${i}`, 'gpt-4o-mini', `q ${i}`)),
    );
    const batch = await waitForBatch(stack.openai, created.id);
    expect(batch.status).toBe('completed');
    // The first attempt was refused; the next one waits on the server's timer.
    const deadline = Date.now() + 60_000;
    while (receiver.forBatch(batch.id).length === 0) {
      if (Date.now() > deadline) throw new Error('no first attempt');
      await sleep(50);
    }
    await sleep(300);
    await stack.workers[0].kill9();
    up = true;
    // No worker, no attempt: the event waits in Temporal, not in a process.
    await sleep(6000);
    expect(receiver.forBatch(batch.id).filter((a) => a.status === 200)).toHaveLength(0);
    await stack.addWorker();
    const accepted = await receiver.accepted(batch.id, 90_000);
    expect(JSON.parse(accepted.body)).toMatchObject({ type: 'batch.completed', data: { id: batch.id } });
    // Once, and nothing more after it.
    await sleep(3000);
    const attempts = receiver.forBatch(batch.id);
    expect(attempts.filter((a) => a.status === 200)).toHaveLength(1);
    expect(attempts.at(-1)?.status).toBe(200);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect(attempts.every((a) => a.verified)).toBe(true);
    // The delivery workflow completes once its activity's answer is in (a workflow task later).
    const child = stack.client.workflow.getHandle(`${batch.id}-webhook`);
    await expect(child.result()).resolves.toMatchObject({ status: 200 });
    expect((await child.describe()).status.name).toBe('COMPLETED');
  });
});
