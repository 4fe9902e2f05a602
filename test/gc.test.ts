// Garbage collection by Temporal Schedule, on the real stack: the schedule the worker creates at
// start (same function), triggered with handle.trigger(); storage checked through the store.
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ScheduleHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { GcSummary } from '../src/activities/collect-garbage';
import type { Batch } from '../src/domain/batch';
import type { StoredFile } from '../src/domain/file';
import type { FsObjectStore } from '../src/storage/fs-store';
import { layout, tenantDir } from '../src/storage/layout';
import { ensureGcSchedule, gcScheduleId, type GcScheduleOptions } from '../src/temporal/gc-schedule';
import { chatLine, createBatch, createBatchWith, readResultFile, waitForBatch } from './harness/batches';
import { expireWorkflow, startRetentionServer } from './harness/retention-server';
import { startStack, type Stack } from './harness/stack';
import type { DevServer } from '../src/temporal/dev-server';

const TENANT = 'default';
const T = tenantDir(TENANT);
const nowS = () => Math.floor(Date.now() / 1000);

let server: DevServer;
let stack: Stack;
let schedule: ScheduleHandle;
let opts: GcScheduleOptions;
const logged: string[] = [];

beforeAll(async () => {
  // Two requests at a time per model: the slow batch keeps running through the gc runs.
  server = await startRetentionServer();
  stack = await startStack(
    { TEMPORAL_ADDRESS: server.address, SEGMENT_SIZE: '5', MODEL_CONCURRENCY: '2' },
    { latencyMs: 5 },
  );
  opts = { taskQueue: stack.config.TEMPORAL_TASK_QUEUE, enabled: true, intervalSeconds: 3600, dryRun: true };
  const spy = vi.spyOn(console, 'log');
  spy.mockImplementation((...args: unknown[]) => {
    logged.push(args.map(String).join(' '));
  });
});
afterAll(async () => {
  if (opts) await ensureGcSchedule(stack.client, { ...opts, enabled: false }).catch(() => undefined);
  vi.restoreAllMocks();
  await stack?.close();
  await server?.stop();
});

/** Triggers the schedule and answers the summary of the run it started. */
async function triggerGc(): Promise<GcSummary> {
  const before = (await schedule.describe()).info.numActionsTaken;
  await schedule.trigger();
  for (const deadline = Date.now() + 15_000; ;) {
    const info = (await schedule.describe()).info;
    if (info.numActionsTaken > before && info.recentActions.length > 0) {
      const { workflowId } = info.recentActions[info.recentActions.length - 1].action.workflow;
      return (await stack.client.workflow.getHandle(workflowId).result()) as GcSummary;
    }
    if (Date.now() > deadline) throw new Error('the triggered gc run did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** This test writes temporary files into the filesystem store's directory: it runs on that store. */
const fsStore = () => stack.store as FsObjectStore;
const keysUnder = async (prefix: string) => (await stack.store.list(prefix)).sort();

/** A File object (and content) written straight into storage: the API refuses expires_after < 3600 s. */
async function storedFile(id: string, expiresAt: number | null): Promise<void> {
  const file: StoredFile = {
    id,
    object: 'file',
    bytes: 4,
    created_at: nowS() - 7200,
    filename: `${id}.jsonl`,
    purpose: 'user_data',
    status: 'processed',
    expires_at: expiresAt,
    status_details: null,
    tenant: TENANT,
  };
  await stack.store.put(layout.fileContent(TENANT, id), 'data');
  await stack.store.put(layout.fileMeta(TENANT, id), JSON.stringify(file));
}

const SLOW_LINES = 200;
const cacheKey = (hash: string) => `${T}/response-cache/${hash.slice(0, 2)}/${hash}.json`;

describe('garbage collection on a Temporal Schedule', () => {
  let finished: Batch;
  let withSchema: Batch;
  let running: Batch;

  it('sets up: a finished batch, a running batch, expired and live files, cache entries, temp files', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => chatLine(`f-${i}`, 'gpt-4o-mini', `hi ${i}`));
    finished = await waitForBatch(stack.openai, (await createBatch(stack.openai, lines)).id);
    expect(finished.status).toBe('completed');
    const schema = { type: 'object' };
    withSchema = await waitForBatch(
      stack.openai,
      (await createBatchWith(stack, [chatLine('s-0', 'gpt-4o-mini', '{}')], { x_output_schema: schema })).id,
    );
    expect(withSchema.status).toBe('completed');
    // ~7 requests a second: still running through both gc runs (~30 s of work); cancelled later.
    const slow = Array.from({ length: SLOW_LINES }, (_, i) =>
      chatLine(`r-${i}`, 'gpt-4o', `slow ${i} #sim:delay=300`),
    );
    running = await createBatch(stack.openai, slow);
    await waitForBatch(stack.openai, running.id, (b) => b.status === 'in_progress');
    for (const deadline = Date.now() + 10_000; ;) {
      if ((await keysUnder(layout.batchPrefix(TENANT, running.id))).some((k) => k.includes('/parts/'))) break;
      if (Date.now() > deadline) throw new Error('the running batch journaled nothing');
      await new Promise((r) => setTimeout(r, 100));
    }

    await storedFile('file-expired1', nowS() - 60);
    await storedFile('file-live1', nowS() + 3600);
    await storedFile('file-forever1', null);
    const expired = 'a'.repeat(64);
    const fresh = 'b'.repeat(64);
    await stack.store.put(
      cacheKey(expired),
      JSON.stringify({ status: 200, text: 'x', expiresAt: nowS() - 1 }),
    );
    await stack.store.put(
      cacheKey(fresh),
      JSON.stringify({ status: 200, text: 'y', expiresAt: nowS() + 600 }),
    );

    const root = join(stack.config.DATA_DIR, 'storage');
    const oldTemp = join(root, T, 'files', 'file-x.json.tmp-0123456789ab');
    writeFileSync(oldTemp, 'half-written');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    utimesSync(oldTemp, twoHoursAgo, twoHoursAgo);
    writeFileSync(join(root, T, 'files', 'file-y.json.tmp-ba9876543210'), 'being written');

    for (const b of [finished, running])
      expect(await keysUnder(layout.batchPrefix(TENANT, b.id))).toEqual(
        expect.arrayContaining([expect.stringContaining('/shards/'), expect.stringContaining('/parts/')]),
      );
  });

  it('dry run (created by the function the worker calls at start): logs what it would remove, removes nothing', async () => {
    const created = await ensureGcSchedule(stack.client, opts);
    expect(created.outcome).toBe('created');
    expect(created.handle.scheduleId).toBe(gcScheduleId(opts.taskQueue));
    schedule = created.handle;
    expect((await ensureGcSchedule(stack.client, opts)).outcome).toBe('unchanged');
    // The running batch keeps journaling meanwhile: everything else must stay as it is.
    const settled = async () =>
      (await keysUnder('')).filter((k) => !k.startsWith(layout.batchPrefix(TENANT, running.id)));
    const before = await settled();
    const summary = await triggerGc();
    expect(summary.dryRun).toBe(true);
    expect(summary.files.files).toBe(1);
    expect(summary.intermediates.batches).toBe(2);
    expect(summary.cache.objects).toBe(1);
    expect(summary.temporary.objects).toBe(1);
    expect(summary.kept.running).toBe(1);
    expect(await settled()).toEqual(before);
    expect(await keysUnder(layout.batchPrefix(TENANT, finished.id))).toContain(
      layout.segment(TENANT, finished.id, 0, 0),
    );
    const line = logged.find((l) => l.startsWith('gc (dry run): would remove'));
    expect(line).toMatch(/expired_files=2 objects of 1 files \(\d+ bytes\)/);
    expect(line).toMatch(/batch_intermediates=\d+ objects of 2 batches/);
    expect(line).toMatch(/cache_entries=1 .*temp_files=1 \(12 bytes\).*running_batches=1/);
  });

  it('removes expired files, finished batches’ intermediates, expired cache entries and stale temp files', async () => {
    const updated = await ensureGcSchedule(stack.client, { ...opts, dryRun: false });
    expect(updated.outcome).toBe('updated'); // the action's arguments changed
    const summary = await triggerGc();
    expect(summary.dryRun).toBe(false);
    expect(logged.some((l) => l.startsWith('gc: removed expired_files=2 objects of 1 files'))).toBe(true);

    // Expired file: gone, metadata and content; the others stay.
    expect(await stack.store.get(layout.fileMeta(TENANT, 'file-expired1'))).toBeNull();
    expect(await stack.store.get(layout.fileContent(TENANT, 'file-expired1'))).toBeNull();
    for (const id of ['file-live1', 'file-forever1'])
      expect(await stack.store.get(layout.fileMeta(TENANT, id))).not.toBeNull();
    await expect(stack.openai.files.retrieve('file-expired1')).rejects.toMatchObject({ status: 404 });

    // The finished batch: only its snapshot (and what reads need) left; output still downloadable.
    expect(await keysUnder(layout.batchPrefix(TENANT, finished.id))).toEqual([
      layout.snapshot(TENANT, finished.id),
    ]);
    const read = await stack.openai.batches.retrieve(finished.id);
    expect(read).toMatchObject({ status: 'completed', request_counts: finished.request_counts });
    expect(await readResultFile(stack.openai, finished.output_file_id)).toHaveLength(12);
    expect((await stack.openai.files.retrieve(finished.input_file_id)).id).toBe(finished.input_file_id);

    // Its output schema is kept while its workflow is within retention (a replay reuses it).
    expect(await keysUnder(layout.batchPrefix(TENANT, withSchema.id))).toEqual([
      layout.snapshot(TENANT, withSchema.id),
      layout.outputSchema(TENANT, withSchema.id),
    ]);

    // The running batch is untouched: segments and journals still there.
    const runningKeys = await keysUnder(layout.batchPrefix(TENANT, running.id));
    expect(runningKeys.filter((k) => k.includes('/shards/'))).toHaveLength(SLOW_LINES / 5);
    expect(runningKeys.some((k) => k.includes('/parts/'))).toBe(true);
    expect(summary.kept.running).toBe(1);

    expect(await stack.store.get(cacheKey('a'.repeat(64)))).toBeNull();
    expect(await stack.store.get(cacheKey('b'.repeat(64)))).not.toBeNull();
    const temps = (await fsStore().listStaleTemporaries(0)).map((t) => t.key);
    expect(temps.filter((k) => k.startsWith(`${T}/files/`))).toEqual([
      `${T}/files/file-y.json.tmp-ba9876543210`,
    ]);
  });

  it('once stopped, the batch’s intermediates go; an option object once its workflow is past retention', async () => {
    await stack.openai.batches.cancel(running.id);
    const cancelled = await waitForBatch(stack.openai, running.id);
    expect(cancelled.status).toBe('cancelled');
    await expireWorkflow(stack.client, withSchema.id); // what retention does to a closed workflow
    const summary = await triggerGc();
    expect(summary.intermediates.batches).toBe(1);
    expect(summary.options.objects).toBe(1);
    expect(summary.kept).toEqual({ running: 0, unknown: 0 });
    expect(await keysUnder(layout.batchPrefix(TENANT, running.id))).toEqual([
      layout.snapshot(TENANT, running.id),
    ]);
    expect(await keysUnder(layout.batchPrefix(TENANT, withSchema.id))).toEqual([
      layout.snapshot(TENANT, withSchema.id),
    ]);
    expect(await stack.openai.batches.retrieve(withSchema.id)).toMatchObject({ status: 'completed' });
    // A cancelled batch's partial output is still there.
    expect((await stack.openai.batches.retrieve(running.id)).status).toBe('cancelled');
    const output = await readResultFile(stack.openai, cancelled.output_file_id);
    const errors = await readResultFile(stack.openai, cancelled.error_file_id);
    expect(output.length + errors.length).toBe(SLOW_LINES);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('GC_ENABLED=false removes the schedule; a changed interval updates it', async () => {
    expect(
      (await ensureGcSchedule(stack.client, { ...opts, dryRun: false, intervalSeconds: 600 })).outcome,
    ).toBe('updated');
    expect((await schedule.describe()).spec.intervals?.[0].every).toBe(600_000);
    expect((await ensureGcSchedule(stack.client, { ...opts, enabled: false })).outcome).toBe('removed');
    expect((await ensureGcSchedule(stack.client, { ...opts, enabled: false })).outcome).toBe('absent');
  });
});
