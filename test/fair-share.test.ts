// Fair sharing between tenants, measured end to end: batches of several tenants compete for one
// model's capacity in a worker (MODEL_CONCURRENCY), and each tenant's share of the upstream calls
// follows its weight — not how many batches it runs, nor whose deadline is earlier.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchProgress, cancelBatch, startBatch, type BatchHandle } from 'temporal-batch-gateway/client';
import { BatchService } from '../src/api/batch-service';
import type { Batch } from '../src/domain/batch';
import type { BatchOptions } from '../src/domain/batch-state';
import { newBatchInputFile } from '../src/domain/file';
import { newBatchId } from '../src/ids';
import { FileRepository } from '../src/storage/file-repository';
import { layout } from '../src/storage/layout';
import { chatLine, toJsonl } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

const CAP = 8;
const LATENCY_MS = 40;
const MODEL = 'm-fair';
/** At CAP / LATENCY_MS ≈ 200 calls/s, a measured window of this length sees ~800 calls. */
const WINDOW_MS = 4000;

let stack: Stack;
let service: BatchService;
beforeAll(async () => {
  stack = await startStack(
    { MODEL_CONCURRENCY: String(CAP), GLOBAL_CONCURRENCY: '64', SEGMENT_SIZE: '100' },
    { latencyMs: LATENCY_MS, jitterMs: 10 },
  );
  service = new BatchService(stack.client, stack.config.TEMPORAL_TASK_QUEUE, stack.store);
});
afterAll(async () => stack?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tag = () => randomBytes(4).toString('hex');
// Distinct bodies: the within-batch response cache would answer repeated ones with one call.
const lines = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => chatLine(`${prefix}-${i}`, MODEL, `${prefix} item ${i}`));

/** A running batch of some tenant, however it was started. */
interface Running {
  tenant: string;
  read: () => Promise<Batch>;
  cancel: () => Promise<void>;
  id: string;
}

/** Starts a batch from Temporal with the public input (tenant, a storage reference; weight 1). */
async function startPublic(tenant: string, n: number): Promise<Running> {
  const name = `${tenant}-${tag()}`;
  await stack.store.put(`imports/${name}.jsonl`, toJsonl(lines(name, n)));
  const handle: BatchHandle = await startBatch(
    stack.client,
    { input_file: `imports/${name}.jsonl`, endpoint: '/v1/chat/completions', tenant },
    { workflowId: name, taskQueue: stack.config.TEMPORAL_TASK_QUEUE },
  );
  const id = (
    await waitFor(
      () => batchProgress(handle),
      (b) => b.id !== undefined,
    )
  ).id;
  return { tenant, id, read: () => batchProgress(handle), cancel: () => cancelBatch(handle) };
}

/**
 * Starts a batch the way the API does (BatchService.start), with options the public input has no
 * field for: the tenant's share, as the API will set it from its keys file.
 */
async function startWithShare(
  tenant: string,
  n: number,
  tenantShare: NonNullable<BatchOptions['tenantShare']>,
): Promise<Running> {
  const fileId = `file-${randomBytes(12).toString('hex')}`;
  const content = toJsonl(lines(`${tenant}-${tag()}`, n));
  await stack.store.put(layout.fileContent(tenant, fileId), content);
  await new FileRepository(stack.store).save(
    newBatchInputFile({ id: fileId, tenant, filename: 'input.jsonl', bytes: Buffer.byteLength(content) }),
  );
  const createdAt = Math.floor(Date.now() / 1000);
  const batch = await service.start({
    batchId: newBatchId(),
    tenant,
    endpoint: '/v1/chat/completions',
    inputFileId: fileId,
    completionWindow: '24h',
    createdAt,
    expiresAt: createdAt + 86_400,
    metadata: null,
    outputTtlSeconds: null,
    options: { tenantShare },
  });
  return {
    tenant,
    id: batch.id,
    read: async () => (await service.get(tenant, batch.id))!,
    cancel: async () => {
      await service.cancel(tenant, batch.id);
    },
  };
}

async function waitFor<T>(get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

/** Each tenant's share of the upstream calls made during WINDOW_MS, with every batch still running. */
async function measureShares(batches: Running[]): Promise<{ shares: Record<string, number>; calls: number }> {
  // Every batch is running and sending, then one more round trip per lane for shares to settle.
  for (const b of batches) await waitFor(b.read, (x) => x.status === 'in_progress');
  const tenants = [...new Set(batches.map((b) => b.tenant))];
  const tenantCalls = (t: string) =>
    batches.filter((b) => b.tenant === t).reduce((n, b) => n + stack.sim.batch(b.id).calls, 0);
  await waitFor(
    async () => tenants.map(tenantCalls),
    (calls) => calls.every((c) => c > 0),
  );
  await sleep(500);
  const before = tenants.map(tenantCalls);
  await sleep(WINDOW_MS);
  const during = tenants.map((t, i) => tenantCalls(t) - before[i]);
  // Nothing finished inside the window: the shares are of five (or two) batches competing.
  for (const b of batches) expect((await b.read()).status).toBe('in_progress');
  const calls = during.reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(tenants.map((t, i) => [t, during[i] / calls]));
  console.log(`fair-share: ${calls} calls in ${WINDOW_MS} ms, shares ${JSON.stringify(shares)}`);
  return { shares, calls };
}

async function cancelAll(batches: Running[]): Promise<void> {
  await Promise.all(batches.map((b) => b.cancel()));
  await Promise.all(
    batches.map((b) => waitFor(b.read, (x) => x.status === 'cancelled' || x.status === 'completed', 90_000)),
  );
}

describe('fair sharing between tenants (one worker, one model)', () => {
  it('two equal tenants get half each, though one runs four batches and started first', async () => {
    // The four batches of team-a start first and fill the model; team-b's one batch comes last,
    // with the latest deadline: served by deadline alone it would wait for all four.
    const a: Running[] = [];
    for (let i = 0; i < 4; i++) a.push(await startPublic('team-a', 2000));
    await waitFor(
      async () => stack.sim.batch(a[0].id).calls,
      (c) => c >= CAP * 4,
    );
    const b = await startPublic('team-b', 1500);
    const all = [...a, b];
    const { shares, calls } = await measureShares(all);
    expect(calls).toBeGreaterThan(160);
    expect(Math.abs(shares['team-a'] - 0.5)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(shares['team-b'] - 0.5)).toBeLessThanOrEqual(0.1);
    // The model's cap held throughout.
    expect(stack.sim.stats().byModel[MODEL].maxInFlight).toBeLessThanOrEqual(CAP);
    await cancelAll(all);
  });

  it('weights 2:1 from the batches options get two thirds and one third', async () => {
    const light = await startWithShare('team-light', 1500, { weight: 1, maxInFlight: null });
    await waitFor(
      async () => stack.sim.batch(light.id).calls,
      (c) => c >= CAP * 4,
    );
    const heavy = await startWithShare('team-heavy', 2000, { weight: 2, maxInFlight: null });
    const all = [light, heavy];
    const { shares } = await measureShares(all);
    // 8 slots at 2:1 settle at 5:3 or 6:2 (within one slot): 62.5–75 % for the heavy tenant.
    expect(Math.abs(shares['team-heavy'] - 2 / 3)).toBeLessThanOrEqual(0.1);
    expect(Math.abs(shares['team-light'] - 1 / 3)).toBeLessThanOrEqual(0.1);
    await cancelAll(all);
  });

  it('a tenant at its max_in_flight waits while the other takes the rest of the capacity', async () => {
    const capped = await startWithShare('team-capped', 1500, { weight: 1, maxInFlight: 2 });
    const free = await startWithShare('team-free', 2000, { weight: 1, maxInFlight: null });
    const all = [capped, free];
    const { shares } = await measureShares(all);
    expect(stack.sim.batch(capped.id).maxInFlight).toBeLessThanOrEqual(2);
    // 2 of 8 slots: a quarter of the calls; the free tenant's 6 keep the model busy.
    expect(Math.abs(shares['team-capped'] - 0.25)).toBeLessThanOrEqual(0.1);
    await cancelAll(all);
  });
});
