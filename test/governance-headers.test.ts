import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Every upstream call carries X-Batch-Id and X-Record-Id plus the allow-listed client headers
// captured when the batch was created — and those never rest in plain text in storage or history.
const SECRET = 'tok-5f1e-SECRET-do-not-store';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ PASSTHROUGH_HEADERS: 'X-Tenant-Id,X-Upstream-Token,Authorization' });
});
afterAll(async () => stack?.close());

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** Every payload of a history decoded to text (payload data is binary in the fetched history). */
function historyText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(historyText).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(historyText).join('\n');
  return '';
}

describe('pass-through headers', () => {
  it('sends allow-listed client headers on every call and keeps them sealed at rest', async () => {
    const lines = Array.from({ length: 30 }, (_, i) =>
      chatLine(`h-${i}`, i % 2 ? 'm-1' : 'm-2', `hello ${i}`),
    );
    const file = await uploadJsonl(stack.openai, toJsonl(lines));
    const res = await fetch(`${stack.apiUrl}/v1/batches`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer client-key-not-for-upstream',
        'x-tenant-id': 'team-7',
        'x-upstream-token': SECRET,
        'x-not-allowed': 'nope',
      },
      body: JSON.stringify({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
      }),
    });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { id: string };
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');

    const stats = stack.sim.batch(created.id);
    expect(stats.calls).toBe(30);
    expect(stats.missingRecordId).toBe(0);
    const last = stats.lastHeaders!;
    expect(last['x-batch-id']).toBe(created.id);
    expect(last['x-tenant-id']).toBe('team-7');
    expect(last['x-upstream-token']).toBe(SECRET);
    expect(last['x-not-allowed']).toBeUndefined();
    // The client's own Authorization is never passed on, even when allow-listed.
    expect(stats.missingAuthorization).toBe(30);

    // At rest: not in any stored file, not in any workflow history of the batch.
    for (const path of filesUnder(stack.config.DATA_DIR)) {
      expect(readFileSync(path).includes(SECRET), path).toBe(false);
    }
    const ids = [created.id];
    for await (const wf of stack.client.workflow.list({ query: `WorkflowId STARTS_WITH '${created.id}-'` }))
      ids.push(wf.workflowId);
    expect(ids.length).toBe(3);
    for (const id of ids) {
      const text = historyText(await stack.client.workflow.getHandle(id).fetchHistory());
      expect(text).toContain(created.id); // the decoding works: the batch id is in its history
      expect(text.includes(SECRET)).toBe(false);
      expect(text.includes('team-7')).toBe(false);
    }
  });
});
