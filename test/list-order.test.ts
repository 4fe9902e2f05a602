// Item 12: GET /v1/batches lists newest first in exact creation order (not by the whole second of
// `created_at`), and paging with `after` stays exact while new batches are being created.
import { TypedSearchAttributes } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { newBatch } from '../src/domain/batch-state';
import { newBatchId } from '../src/ids';
import {
  BATCH_CREATED_AT_SA,
  BATCH_STATUS_SA,
  BATCH_TENANT_SA,
  BATCH_WORKFLOW_TYPE,
} from '../src/workflows/definitions';
import { sleep } from './harness/api-errors';
import { chatLine, toJsonl, uploadJsonl } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

let stack: Stack;
let inputFileId: string;
beforeAll(async () => {
  stack = await startStack({}, { latencyMs: 1 });
  inputFileId = (await uploadJsonl(stack.openai, toJsonl([chatLine('only', 'gpt-4o-mini', 'hi')]))).id;
});
afterAll(async () => stack?.close());

interface ListBody {
  object: 'list';
  data: Batch[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

async function create(): Promise<string> {
  const res = await fetch(`${stack.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      input_file_id: inputFileId,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
    }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as Batch).id;
}

async function page(limit: number, after: string | null): Promise<ListBody> {
  const q = new URLSearchParams({ limit: String(limit), ...(after ? { after } : {}) });
  const res = await fetch(`${stack.apiUrl}/v1/batches?${q.toString()}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ListBody;
}

describe('list order', () => {
  it('30 batches created as fast as possible come back in creation order, paged by 7 while more are created', async () => {
    // Groups in creation order: a group's creates overlap each other (their relative order is the
    // server's to decide), and each group starts only after the previous one was answered.
    const groups: string[][] = [];
    const sequential = async (n: number) => {
      for (let i = 0; i < n; i++) groups.push([await create()]);
    };
    const concurrent = async (n: number) => {
      groups.push(await Promise.all(Array.from({ length: n }, () => create())));
    };
    await sequential(8);
    await concurrent(2);
    await concurrent(3);
    await sequential(6);
    await concurrent(2);
    await concurrent(4);
    await sequential(5);
    const ours = groups.flat();
    expect(ours).toHaveLength(30);
    expect(new Set(ours).size).toBe(30);
    const mine = new Set(ours);
    // Most of them share a `created_at` second with another: the order must come from elsewhere.
    const start = Date.now();

    // Visibility is asynchronous: wait until the first page of 100 shows all 30.
    for (;;) {
      const first = await page(100, null);
      if (first.data.filter((b) => mine.has(b.id)).length === 30) break;
      expect(Date.now() - start).toBeLessThan(20_000);
      await sleep(100);
    }

    // Page by 7 to the end while new batches keep being created.
    let creating = true;
    const during: string[] = [];
    const creator = (async () => {
      while (creating) during.push(await create());
    })();
    const walked: Batch[] = [];
    let after: string | null = null;
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(2000);
      const p = await page(7, after);
      expect(p.data.length).toBeLessThanOrEqual(7);
      if (p.has_more) expect(p.data).toHaveLength(7);
      expect(p.first_id).toBe(p.data[0]?.id ?? null);
      expect(p.last_id).toBe(p.data.at(-1)?.id ?? null);
      walked.push(...p.data);
      if (!p.has_more) break;
      after = p.last_id;
    }
    creating = false;
    await creator;
    expect(during.length).toBeGreaterThan(0);

    // No duplicates anywhere in the walk (the shared server also holds other files' batches).
    const ids = walked.map((b) => b.id);
    expect(new Set(ids).size).toBe(ids.length);
    // No gaps: every one of ours, exactly in reverse creation order (a group in any inner order).
    const oursWalked = ids.filter((id) => mine.has(id));
    const expected = [...groups].reverse();
    let at = 0;
    for (const group of expected) {
      expect(new Set(oursWalked.slice(at, at + group.length))).toEqual(new Set(group));
      at += group.length;
    }
    expect(at).toBe(oursWalked.length);
    // Batches created during the walk can only appear before all of ours (they are newer), once.
    const duringSet = new Set(during);
    const firstOurs = ids.findIndex((id) => mine.has(id));
    ids.forEach((id, i) => {
      if (duringSet.has(id)) expect(i).toBeLessThan(firstOurs);
    });
    // Within a second, created_at alone cannot order them; across the walk it never increases.
    for (let i = 1; i < walked.length; i++)
      expect(walked[i].created_at).toBeLessThanOrEqual(walked[i - 1].created_at);

    // A page after each of ours starts with the next older of ours (no gap after a cursor either).
    const flatExpected = expected.flat();
    for (const cursor of [flatExpected[0], flatExpected[7], flatExpected[20]]) {
      const p = await page(100, cursor);
      const next = p.data.filter((b) => mine.has(b.id)).map((b) => b.id);
      // Other files' batches may fill part of the page: ours in it are a prefix of the older ones.
      const older = oursWalked.slice(oursWalked.indexOf(cursor) + 1);
      expect(next.length).toBeGreaterThan(0);
      expect(next).toEqual(older.slice(0, next.length));
    }
  });

  it('a batch started without BatchCreatedSeq (an older API) lists at the start of its created_at second', async () => {
    const older = await create();
    const olderAt = ((await (await fetch(`${stack.apiUrl}/v1/batches/${older}`)).json()) as Batch).created_at;
    while (Math.floor(Date.now() / 1000) < olderAt + 2) await sleep(50);
    // Started the way the API did before BatchCreatedSeq existed, on a queue no worker polls.
    const legacyId = newBatchId();
    const createdAt = olderAt + 1;
    const input = {
      batchId: legacyId,
      tenant: 'default',
      endpoint: '/v1/chat/completions',
      inputFileId,
      completionWindow: '24h',
      createdAt,
      expiresAt: createdAt + 86_400,
      metadata: null,
      outputTtlSeconds: null,
    };
    const handle = await stack.client.workflow.start(BATCH_WORKFLOW_TYPE, {
      workflowId: legacyId,
      taskQueue: `no-worker-${legacyId}`,
      args: [input],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: BATCH_STATUS_SA, value: 'validating' },
        { key: BATCH_TENANT_SA, value: 'default' },
        { key: BATCH_CREATED_AT_SA, value: createdAt },
      ]),
      memo: { batch: newBatch(input), options: null },
    });
    try {
      const newer = await create();
      const order = [newer, legacyId, older];
      for (const t0 = Date.now(); ;) {
        const p = await page(100, null);
        const ids = p.data.map((b) => b.id).filter((id) => order.includes(id));
        if (ids.length === 3) {
          expect(ids).toEqual(order);
          expect(p.data.find((b) => b.id === legacyId)?.status).toBe('validating');
          break;
        }
        expect(Date.now() - t0).toBeLessThan(20_000);
        await sleep(100);
      }
      // And as a cursor: the page after it starts below it.
      const after = (await page(100, legacyId)).data.map((b) => b.id);
      expect(after).not.toContain(newer);
      expect(after).not.toContain(legacyId);
      expect(after).toContain(older);
    } finally {
      await handle.terminate('test over');
    }
  });
});
