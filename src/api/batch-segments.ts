// The input segments ingest wrote for a batch, per model, read back from storage for the record
// and partial-results routes (the API has no plan of its own: it lives in workflow history).
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';

/** Per model index (ascending), how many segments it has; empty before ingest or after GC. */
export async function segmentCounts(
  store: ObjectStore,
  tenant: string,
  batchId: string,
): Promise<{ model: number; segments: number }[]> {
  const prefix = `${layout.batchPrefix(tenant, batchId)}shards/`;
  const counts = new Map<number, number>();
  for (const key of await store.list(prefix)) {
    const m = /^(\d+)\/(\d+)\.jsonl$/.exec(key.slice(prefix.length));
    if (!m) continue;
    const model = Number(m[1]);
    counts.set(model, Math.max(counts.get(model) ?? 0, Number(m[2]) + 1));
  }
  return [...counts].sort(([a], [b]) => a - b).map(([model, segments]) => ({ model, segments }));
}
