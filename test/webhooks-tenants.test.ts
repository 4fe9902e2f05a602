// Per-tenant webhooks from API_KEYS_FILE (no deployment WEBHOOK_URL): a tenant's batches go to its
// own receiver, signed with its own secret; a tenant without one starts no delivery at all (no
// marker, no child workflow). And a bad WEBHOOK_SECRET stops a process at start in one line.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, createBatch, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';
import { webhookDelivery } from './harness/webhook-delivery';
import { startWebhookReceiver, type WebhookReceiver } from './harness/webhook-receiver';

const dir = mkdtempSync(join(tmpdir(), 'batchgw-webhook-keys-'));
let stack: Stack;
let receiver: WebhookReceiver;
let other: WebhookReceiver;
const client = (key: string) => new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: key, maxRetries: 0 });

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  other = await startWebhookReceiver();
  const keysFile = join(dir, 'keys.json');
  // Tenant `constructor` (a name a plain object would answer from its prototype) has a webhook on
  // one key; its second key, a plain string entry, shares it. Tenant `plain` has none.
  writeFileSync(
    keysFile,
    JSON.stringify({
      'key-c1': { tenant: 'constructor', webhook_url: receiver.url, webhook_secret: receiver.secret },
      'key-c2': 'constructor',
      'key-p': { tenant: 'plain', weight: 1 },
    }),
  );
  // Delivery gives up 3 s after the first attempt.
  stack = await startStack({
    API_KEYS_FILE: keysFile,
    WEBHOOK_RETRY_INITIAL_MS: '200',
    WEBHOOK_RETRY_MAX_MS: '500',
    WEBHOOK_RETRY_FOR_MS: '3000',
  });
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
  await other?.close();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`r-${i}`, 'gpt-4o-mini', `q ${i}`));

describe('per-tenant webhooks', () => {
  it("a tenant's batch goes to its own webhook, signed with its secret, from any of its keys", async () => {
    const created = await createBatch(client('key-c2'), lines(2));
    const batch = await waitForBatch(client('key-c2'), created.id);
    expect(batch.status).toBe('completed');
    const accepted = await receiver.accepted(batch.id);
    expect(accepted.verified).toBe(true);
    expect(JSON.parse(accepted.body)).toMatchObject({ type: 'batch.completed', data: { id: batch.id } });
    expect(receiver.forBatch(batch.id)).toHaveLength(1);
    expect(other.attempts).toHaveLength(0);
  });

  it('gives up WEBHOOK_RETRY_FOR_MS after the first attempt: the delivery fails visibly, no attempt after', async () => {
    receiver.answer = () => 503;
    const created = await createBatch(client('key-c1'), lines(1));
    const batch = await waitForBatch(client('key-c1'), created.id);
    expect(batch.status).toBe('completed');
    const handle = await webhookDelivery(stack.client, batch.id);
    const failure = await handle.result().then(
      () => null,
      (err: unknown) => err as WorkflowFailedError,
    );
    expect(failure?.cause?.message).toMatch(/answered 503 at attempt \d+; gave up/);
    const attempts = receiver.forBatch(batch.id);
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    // Planned within the 3 s; a loaded machine may start the last one a little late.
    expect(attempts.at(-1)!.at - attempts[0].at).toBeLessThan(3000 + 3000);
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.forBatch(batch.id)).toHaveLength(attempts.length);
    receiver.answer = () => 200;
  });

  it('a tenant without a webhook (and no WEBHOOK_URL) starts no delivery: no marker, no child', async () => {
    const created = await createBatch(client('key-p'), lines(2));
    const batch = await waitForBatch(client('key-p'), created.id);
    expect(batch.status).toBe('completed');
    await expect(stack.client.workflow.getHandle(`${batch.id}-webhook`).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    const { events } = await stack.client.workflow.getHandle(batch.id).fetchHistory();
    const text = JSON.stringify(events);
    expect(text).not.toContain('webhook-delivery');
    expect(text).not.toContain('webhookDeliveryWorkflow');
    expect(receiver.forBatch(batch.id)).toHaveLength(0);
  });
});

describe('start-up', () => {
  it.each(['worker', 'api'])(
    'the %s refuses a bad WEBHOOK_SECRET with one line and exit code 2',
    async (entry) => {
      const root = resolve(__dirname, '..');
      const child = spawn(process.execPath, ['--import', 'tsx', `src/main/${entry}.ts`], {
        cwd: root,
        env: {
          ...process.env,
          DATA_DIR: dir,
          WEBHOOK_URL: 'https://hooks.example.com/',
          WEBHOOK_SECRET: 'whsec_tooshort',
          // Nothing to reach: the process must stop before connecting anywhere.
          TEMPORAL_ADDRESS: '127.0.0.1:1',
          PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((res) => child.once('exit', res));
      expect(code).toBe(2);
      expect(stderr).toBe(
        'invalid configuration: WEBHOOK_SECRET: must be whsec_ followed by the base64 of 24 to 64 bytes (Standard Webhooks)\n',
      );
    },
  );
});
