import { heartbeat as activityHeartbeat, getClient } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { BatchOptions } from '../domain/batch-state';
import { StoredFile } from '../domain/file';
import type { ObjectStore } from '../storage/object-store';
import { BATCH_WORKFLOW_TYPE } from '../workflows/definitions';
import type { ActivityRuntime } from './runtime';

// Garbage collection (run by gcWorkflow on the `batch-gateway-gc` Temporal Schedule): removes what
// no reader can reach any more. Storage is enumerated through the ObjectStore interface only
// (list, get, size, delete, deletePrefix), so it runs the same on every store.
//
// - expired files (`expires_at` passed: uploads, batch inputs, output and error files): the File
//   object first (from then on the file is gone for every reader), then its content;
// - intermediate data of finished batches: input segments (shards/) and journals with their
//   done-markers (parts/). A batch is finished when its final snapshot (batch.json) is stored — it is
//   written after finalize, as the workflow ends — or when Temporal describes its workflow as closed
//   (terminated, timed out). A running batch, and one Temporal does not know without a snapshot, is
//   never touched. batch.json, workflow.json and replays/ stay: reads after retention need them;
// - the captured headers (headers.sealed) and `x_output_schema` (output-schema.json) of a finished
//   batch once no batch workflow Temporal still knows refers to them: a dead-letter replay reuses
//   its original's options (by these keys) while the original is within retention, and a running
//   replay reads them, so they go after the original and its replays have passed retention;
// - expired cross-batch response cache entries (governance/response-cache.ts);
// - temporary objects of writes that never committed (`*.tmp-*` of the filesystem store), older
//   than an hour.

/** Temporary objects younger than this may belong to a write still under way. */
export const TEMP_MAX_AGE_MS = 3600_000;
/** Storage calls in flight at once (each is a round trip on S3). */
const PARALLEL = 16;
/** Tenant directories are hashes (layout.ts); anything else under the root is not ours to collect. */
const TENANT_DIR = /^[0-9a-f]{20}$/;
const INTERMEDIATE = /^(shards|parts)\//;
const OPTION_OBJECTS = new Set(['headers.sealed', 'output-schema.json']);

export interface GcInput {
  /** Only log what would be removed (GC_DRY_RUN). */
  dryRun: boolean;
}

export interface GcKind {
  /** Objects removed (or that would be, in a dry run). */
  objects: number;
  bytes: number;
}

export interface GcSummary {
  dryRun: boolean;
  /** Expired files: `files` of them, File objects and contents counted in `objects` and `bytes`. */
  files: GcKind & { files: number };
  /** shards/ and parts/ of `batches` finished batches. */
  intermediates: GcKind & { batches: number };
  /** headers.sealed and output-schema.json no batch workflow refers to any more. */
  options: GcKind;
  cache: GcKind;
  temporary: GcKind;
  /** Batches left alone: running, or neither a snapshot nor a workflow known to Temporal. */
  kept: { running: number; unknown: number };
  durationMs: number;
}

/** What garbage collection asks of Temporal. */
export interface GcTemporal {
  /** The state of a workflow execution: `running` also while it continues as new. */
  status(workflowId: string, runId?: string): Promise<'running' | 'closed' | 'not_found'>;
  /** Storage keys named by the options of every batch workflow Temporal still knows (open or within retention). */
  referencedKeys(): Promise<Set<string>>;
}

export interface GcDeps {
  store: ObjectStore;
  temporal: GcTemporal;
  /** Seconds since the epoch. */
  now: number;
  heartbeat?: () => void;
  log?: (line: string) => void;
}

/** The activity: one run over the whole store, ending in one summary line in the worker's log. */
export async function collectGarbage(rt: ActivityRuntime, input: GcInput): Promise<GcSummary> {
  return runGc(input, {
    store: rt.store,
    temporal: temporalOf(getClient()),
    now: Math.floor(Date.now() / 1000),
    heartbeat: () => activityHeartbeat(),
  });
}

export function temporalOf(client: Client): GcTemporal {
  return {
    async status(workflowId, runId) {
      try {
        const { status } = await client.workflow.getHandle(workflowId, runId).describe();
        return status.name === 'RUNNING' || status.name === 'CONTINUED_AS_NEW' ? 'running' : 'closed';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'not_found';
        throw err;
      }
    },
    async referencedKeys() {
      const keys = new Set<string>();
      const query = `WorkflowType = '${BATCH_WORKFLOW_TYPE}'`;
      for await (const wf of client.workflow.list({ query, pageSize: 1000 })) {
        const options = (wf.memo as { options?: BatchOptions | null } | undefined)?.options;
        if (options?.headersKey) keys.add(options.headersKey);
        if (options?.outputSchemaKey) keys.add(options.outputSchemaKey);
      }
      return keys;
    },
  };
}

export async function runGc(input: GcInput, deps: GcDeps): Promise<GcSummary> {
  const started = Date.now();
  const { store, now } = deps;
  const dryRun = input.dryRun;
  const summary: GcSummary = {
    dryRun,
    files: { files: 0, objects: 0, bytes: 0 },
    intermediates: { batches: 0, objects: 0, bytes: 0 },
    options: { objects: 0, bytes: 0 },
    cache: { objects: 0, bytes: 0 },
    temporary: { objects: 0, bytes: 0 },
    kept: { running: 0, unknown: 0 },
    durationMs: 0,
  };
  let steps = 0;
  const beat = () => {
    if (++steps % 100 === 0) deps.heartbeat?.();
  };
  const remove = async (key: string) => {
    if (!dryRun) await store.delete(key);
  };

  // One listing of the whole store, grouped by tenant and kind: GC visits every file, batch and
  // cache key anyway, so this costs what per-tenant listings would (and needs no directory listing).
  const files = new Map<string, { meta: string; content: string }>();
  const batches = new Map<string, { prefix: string; rest: Set<string> }>();
  const cache: string[] = [];
  for (const key of await store.list('')) {
    const [tenant, area, ...rest] = key.split('/');
    if (!TENANT_DIR.test(tenant) || rest.length === 0) continue;
    if (area === 'files' && rest.length === 1 && rest[0].endsWith('.json')) {
      const id = rest[0].slice(0, -'.json'.length);
      files.set(key, { meta: key, content: `${tenant}/files/${id}` });
    } else if (area === 'batches' && rest.length >= 2) {
      const prefix = `${tenant}/batches/${rest[0]}/`;
      let batch = batches.get(prefix);
      if (!batch) batches.set(prefix, (batch = { prefix, rest: new Set() }));
      batch.rest.add(rest.slice(1).join('/'));
    } else if (area === 'response-cache' && key.endsWith('.json')) {
      cache.push(key);
    }
  }
  deps.heartbeat?.();

  // Expired files: the File object first (the file is gone for every reader), then the content.
  await forEachLimit([...files.values()], PARALLEL, async ({ meta, content }) => {
    beat();
    const raw = await store.get(meta);
    if (!raw) return;
    const parsed = StoredFile.safeParse(safeJson(raw));
    if (!parsed.success) return; // not a File object we wrote: never ours to judge
    const expiresAt = parsed.data.expires_at;
    if (expiresAt === null || expiresAt > now) return;
    const bytes = await store.size(content);
    await remove(meta);
    await remove(content);
    summary.files.files++;
    summary.files.objects += bytes === null ? 1 : 2;
    summary.files.bytes += raw.length + (bytes ?? 0);
  });

  // Finished batches: intermediates at once, their options once nothing refers to them any more.
  const optionCandidates: string[] = [];
  await forEachLimit([...batches.values()], PARALLEL, async ({ prefix, rest }) => {
    beat();
    const intermediates = [...rest].filter((r) => INTERMEDIATE.test(r));
    const options = [...rest].filter((r) => OPTION_OBJECTS.has(r));
    if (intermediates.length === 0 && options.length === 0) return;
    const state = rest.has('batch.json') ? 'finished' : await batchState(store, deps.temporal, prefix);
    if (state !== 'finished') {
      summary.kept[state]++;
      return;
    }
    optionCandidates.push(...options.map((r) => prefix + r));
    if (intermediates.length === 0) return;
    let bytes = 0;
    for (const r of intermediates) bytes += (await store.size(prefix + r)) ?? 0;
    if (!dryRun) {
      // Each tree as a whole: also a leftover a late writer (a zombie attempt) added since the listing.
      for (const dir of new Set(intermediates.map((r) => r.split('/')[0])))
        await store.deletePrefix(`${prefix}${dir}/`);
    }
    summary.intermediates.batches++;
    summary.intermediates.objects += intermediates.length;
    summary.intermediates.bytes += bytes;
  });
  if (optionCandidates.length > 0) {
    const referenced = await deps.temporal.referencedKeys();
    deps.heartbeat?.();
    await forEachLimit(
      optionCandidates.filter((k) => !referenced.has(k)),
      PARALLEL,
      async (key) => {
        beat();
        const bytes = await store.size(key);
        if (bytes === null) return;
        await remove(key);
        summary.options.objects++;
        summary.options.bytes += bytes;
      },
    );
  }

  // Expired response cache entries (read to learn their expiry; a fresh overwrite in between only costs a miss).
  await forEachLimit(cache, PARALLEL, async (key) => {
    beat();
    const raw = await store.get(key);
    if (!raw) return;
    const entry = safeJson(raw) as { expiresAt?: unknown } | null;
    if (typeof entry?.expiresAt !== 'number' || entry.expiresAt > now) return;
    await remove(key);
    summary.cache.objects++;
    summary.cache.bytes += raw.length;
  });

  // Leftovers of writes that never committed.
  const temporaries = (await store.listStaleTemporaries?.(TEMP_MAX_AGE_MS)) ?? [];
  await forEachLimit(temporaries, PARALLEL, async ({ key, bytes }) => {
    beat();
    await remove(key);
    summary.temporary.objects++;
    summary.temporary.bytes += bytes;
  });

  summary.durationMs = Date.now() - started;
  (deps.log ?? console.log)(summaryLine(summary));
  return summary;
}

/** A batch without a snapshot: finished once its workflow is closed; running, or unknown to Temporal. */
async function batchState(
  store: ObjectStore,
  temporal: GcTemporal,
  prefix: string,
): Promise<'finished' | 'running' | 'unknown'> {
  // A batch started from Temporal runs under the starter's workflow id, recorded beside it.
  const recorded = await store.get(`${prefix}workflow.json`);
  const execution = recorded
    ? (JSON.parse(recorded.toString('utf8')) as { workflowId: string; runId?: string })
    : { workflowId: prefix.split('/')[2] };
  const status = await temporal.status(execution.workflowId, execution.runId);
  // Not found without a snapshot: a workflow past retention that never stored one (terminated),
  // or one not started yet, or one in another namespace sharing this store. Never guess.
  return status === 'closed' ? 'finished' : status === 'running' ? 'running' : 'unknown';
}

/** `gc: removed …` (or `gc (dry run): would remove …`): counts and bytes per kind, one line. */
export function summaryLine(s: GcSummary): string {
  const kind = (name: string, k: GcKind, extra = '') => `${name}=${k.objects}${extra} (${k.bytes} bytes)`;
  return [
    s.dryRun ? 'gc (dry run): would remove' : 'gc: removed',
    [
      kind('expired_files', s.files, ` objects of ${s.files.files} files`),
      kind('batch_intermediates', s.intermediates, ` objects of ${s.intermediates.batches} batches`),
      kind('batch_options', s.options),
      kind('cache_entries', s.cache),
      kind('temp_files', s.temporary),
    ].join(', ') + ';',
    `kept running_batches=${s.kept.running}, unknown_batches=${s.kept.unknown};`,
    `${(s.durationMs / 1000).toFixed(2)} s`,
  ].join(' ');
}

function safeJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  });
  await Promise.all(workers);
}
