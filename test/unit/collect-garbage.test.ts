// The garbage collector's decisions with a fake Temporal: what it never touches (batches Temporal
// does not know without a snapshot, running ones, option objects still referred to, anything outside
// our layout) and what it takes (closed batches without a snapshot, e.g. terminated ones).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGc, type GcTemporal } from '../../src/activities/collect-garbage';
import { loadConfig } from '../../src/config';
import { FsObjectStore } from '../../src/storage/fs-store';
import { layout, tenantDir } from '../../src/storage/layout';

let root: string;
let store: FsObjectStore;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'batchgw-gc-'));
  store = new FsObjectStore(root, { sync: false });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T = 'team-gc';
async function batchData(id: string, extra: Record<string, string> = {}): Promise<void> {
  await store.put(layout.segment(T, id, 0, 0), 'segment');
  await store.put(layout.journal(T, id, 0, 0), 'journal');
  for (const [k, v] of Object.entries(extra)) await store.put(`${layout.batchPrefix(T, id)}${k}`, v);
}

describe('runGc decisions', () => {
  it('keeps unknown and running batches, takes closed ones, keeps option objects still referred to', async () => {
    await batchData('batch_unknown', { 'headers.sealed': 'h' });
    await batchData('batch_running');
    await batchData('batch_terminated', { 'output-schema.json': '{}', 'headers.sealed': 'h' });
    await batchData('batch_direct', {
      'workflow.json': JSON.stringify({ workflowId: 'nightly', runId: 'r1' }),
    });
    await store.put('imports/nightly.jsonl', 'a user file under the root');
    await store.put(`${tenantDir(T)}/files/file-broken.json`, 'not json');
    const asked: string[] = [];
    const temporal: GcTemporal = {
      async status(workflowId, runId) {
        asked.push(runId ? `${workflowId}/${runId}` : workflowId);
        if (workflowId === 'batch_running') return 'running';
        if (workflowId === 'batch_terminated' || workflowId === 'nightly') return 'closed';
        return 'not_found';
      },
      async referencedKeys() {
        return new Set([layout.batchHeaders(T, 'batch_terminated')]);
      },
    };
    const lines: string[] = [];
    const summary = await runGc({ dryRun: false }, { store, temporal, now: 1e10, log: (l) => lines.push(l) });
    expect(asked.sort()).toEqual(['batch_running', 'batch_terminated', 'batch_unknown', 'nightly/r1']);
    expect(summary.kept).toEqual({ running: 1, unknown: 1 });
    expect(summary.intermediates).toMatchObject({ batches: 2, objects: 4 });
    expect(summary.options.objects).toBe(1);
    const left = (id: string) =>
      store.list(layout.batchPrefix(T, id)).then((keys) => keys.map((k) => k.split(`/${id}/`)[1]).sort());
    expect(await left('batch_unknown')).toEqual(['headers.sealed', 'parts/0/0.journal', 'shards/0/0.jsonl']);
    expect(await left('batch_running')).toEqual(['parts/0/0.journal', 'shards/0/0.jsonl']);
    expect(await left('batch_terminated')).toEqual(['headers.sealed']);
    expect(await left('batch_direct')).toEqual(['workflow.json']);
    expect(await store.get('imports/nightly.jsonl')).not.toBeNull();
    expect(await store.get(`${tenantDir(T)}/files/file-broken.json`)).not.toBeNull();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^gc: removed .*batch_intermediates=4 objects of 2 batches .*batch_options=1 /);
    expect(lines[0]).toMatch(/kept running_batches=1, unknown_batches=1;/);
  });
});

describe('GC settings', () => {
  it('defaults to an hourly, enabled, removing run, and reads intervals with units', () => {
    const c = loadConfig({});
    expect([c.GC_ENABLED, c.GC_INTERVAL, c.GC_DRY_RUN]).toEqual([true, 3600, false]);
    expect(loadConfig({ GC_INTERVAL: '90s', GC_DRY_RUN: 'true', GC_ENABLED: 'false' })).toMatchObject({
      GC_INTERVAL: 90,
      GC_DRY_RUN: true,
      GC_ENABLED: false,
    });
    expect(loadConfig({ GC_INTERVAL: '1d' }).GC_INTERVAL).toBe(86_400);
    for (const bad of ['5s', '1 hour', 'often'])
      expect(() => loadConfig({ GC_INTERVAL: bad })).toThrow(/GC_INTERVAL/);
  });
});
