import { createHash } from 'node:crypto';

// Where everything lives in the object store. Tenant ids are hashed into paths so ids can be
// neither enumerated nor used to traverse, and every key is scoped by tenant.

const tenantDirCache = new Map<string, string>();

export function tenantDir(tenant: string): string {
  let dir = tenantDirCache.get(tenant);
  if (!dir) {
    dir = createHash('sha256').update(tenant).digest('hex').slice(0, 20);
    tenantDirCache.set(tenant, dir);
  }
  return dir;
}

export const layout = {
  filesPrefix: (tenant: string) => `${tenantDir(tenant)}/files/`,
  fileContent: (tenant: string, fileId: string) => `${tenantDir(tenant)}/files/${fileId}`,
  fileMeta: (tenant: string, fileId: string) => `${tenantDir(tenant)}/files/${fileId}.json`,
  batchPrefix: (tenant: string, batchId: string) => `${tenantDir(tenant)}/batches/${batchId}/`,
  /** Input requests of one model, split into numbered segments written at ingest. */
  segment: (tenant: string, batchId: string, model: number, seg: number) =>
    `${tenantDir(tenant)}/batches/${batchId}/shards/${model}/${seg}.jsonl`,
  /** Results of one segment, appended as each request finishes. */
  journal: (tenant: string, batchId: string, model: number, seg: number) =>
    `${tenantDir(tenant)}/batches/${batchId}/parts/${model}/${seg}.journal`,
  /** Written once every request of the segment has a result: makes a re-run a no-op. */
  segmentDone: (tenant: string, batchId: string, model: number, seg: number) =>
    `${tenantDir(tenant)}/batches/${batchId}/parts/${model}/${seg}.done.json`,
  /** Client headers captured for pass-through, sealed (security/secret-box.ts). */
  batchHeaders: (tenant: string, batchId: string) => `${tenantDir(tenant)}/batches/${batchId}/headers.sealed`,
  /** The batch's `x_output_schema` (JSON text), read by every chunk. */
  outputSchema: (tenant: string, batchId: string) =>
    `${tenantDir(tenant)}/batches/${batchId}/output-schema.json`,
  /** A webhook of the tenant (URL and secret, sealed: webhooks/target.ts), named by a digest of both. */
  webhookTarget: (tenant: string, digest: string) => `${tenantDir(tenant)}/webhooks/${digest}.sealed`,
  /** Cross-batch response cache entries (governance/response-cache.ts), by request hash. */
  responseCache: (tenant: string, hash: string) =>
    `${tenantDir(tenant)}/response-cache/${hash.slice(0, 2)}/${hash}.json`,
  /** The workflow execution of a batch started from Temporal (its workflow id is the starter's). */
  batchWorkflow: (tenant: string, batchId: string) => `${tenantDir(tenant)}/batches/${batchId}/workflow.json`,
  snapshot: (tenant: string, batchId: string) => `${tenantDir(tenant)}/batches/${batchId}/batch.json`,
  /** Replays of a batch (dead-letter replay): one small object per replay, so concurrent replays never collide. */
  replays: (tenant: string, batchId: string) => `${tenantDir(tenant)}/batches/${batchId}/replays/`,
  replay: (tenant: string, batchId: string, replayId: string) =>
    `${tenantDir(tenant)}/batches/${batchId}/replays/${replayId}.json`,
};
