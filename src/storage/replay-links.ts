import { z } from 'zod';
import { layout, tenantDir } from './layout';
import type { ObjectStore } from './object-store';

// The original → replay links of dead-letter replay. The replay itself carries `x_replay_of` in
// its workflow input; the way back lives here, one object per replay, so concurrent replays of
// one batch each write their own key (atomically) and never overwrite each other's.

// A list page must not read storage for every terminal batch it shows, so each original with a
// replay also gets an empty marker under one per-tenant prefix: a list reads that prefix once and
// then the links of the marked batches only. A marker is never removed (a replay start that failed
// leaves it behind): it means "may have replays" and costs one extra read, never a wrong answer.
const replayedMarker = (tenant: string, originalId: string) => `${tenantDir(tenant)}/replayed/${originalId}`;
const replayedPrefix = (tenant: string) => `${tenantDir(tenant)}/replayed/`;

// `recorded_ms` orders replays made within the same second (Batch timestamps are whole seconds).
const ReplayLink = z.object({ batch_id: z.string(), recorded_ms: z.number() });

export async function recordReplay(
  store: ObjectStore,
  tenant: string,
  originalId: string,
  replayId: string,
): Promise<void> {
  await store.put(replayedMarker(tenant, originalId), '');
  await store.put(
    layout.replay(tenant, originalId, replayId),
    JSON.stringify({ batch_id: replayId, recorded_ms: Date.now() }),
  );
}

export async function forgetReplay(
  store: ObjectStore,
  tenant: string,
  originalId: string,
  replayId: string,
): Promise<void> {
  await store.delete(layout.replay(tenant, originalId, replayId));
}

/** Ids of the batches replaying `originalId`, oldest first. */
export async function listReplays(store: ObjectStore, tenant: string, originalId: string): Promise<string[]> {
  const keys = (await store.list(layout.replays(tenant, originalId))).filter((k) => k.endsWith('.json'));
  const links: z.infer<typeof ReplayLink>[] = [];
  for (const key of keys) {
    const raw = await store.get(key);
    if (raw) links.push(ReplayLink.parse(JSON.parse(raw.toString('utf8'))));
  }
  links.sort((a, b) => a.recorded_ms - b.recorded_ms || (a.batch_id < b.batch_id ? -1 : 1));
  return links.map((l) => l.batch_id);
}

/**
 * Of `ids`, those that may have replays (one listing of the tenant's markers). Replays recorded
 * before markers existed are not marked: such a batch shows its `x_replays` on GET by id only.
 */
export async function mayHaveReplays(
  store: ObjectStore,
  tenant: string,
  ids: readonly string[],
): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const prefix = replayedPrefix(tenant);
  const marked = new Set((await store.list(prefix)).map((k) => k.slice(prefix.length)));
  return new Set(ids.filter((id) => marked.has(id)));
}
