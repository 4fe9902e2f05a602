import type { IncomingHttpHeaders } from 'node:http';
import { BoundedMap } from '../bounded-map';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import type { SecretBox } from './secret-box';

/** Headers we set ourselves or that belong to one hop: never taken from the client. */
const NEVER_PASSED = new Set([
  'authorization',
  'host',
  'content-type',
  'content-length',
  'connection',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
  'x-batch-id',
  'x-record-id',
]);

/**
 * At batch creation: the allow-listed client headers, sealed and stored; returns the storage
 * key (a reference for the workflow input) or null when the request carried none. `reserved`
 * names headers we set ourselves (GATEWAY_TENANT_HEADER): never captured, even if allow-listed.
 */
export async function capturePassthroughHeaders(
  store: ObjectStore,
  box: SecretBox,
  allowList: string[],
  headers: IncomingHttpHeaders,
  tenant: string,
  batchId: string,
  reserved: readonly string[] = [],
): Promise<string | null> {
  const captured: Record<string, string> = {};
  for (const name of allowList) {
    const value = headers[name];
    if (NEVER_PASSED.has(name) || reserved.includes(name) || value === undefined) continue;
    captured[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (Object.keys(captured).length === 0) return null;
  const key = layout.batchHeaders(tenant, batchId);
  await store.put(key, box.seal(JSON.stringify(captured)));
  return key;
}

const cache = new BoundedMap<string, Promise<Record<string, string>>>(1_000);

/** In a worker: the batch's pass-through headers, opened once per process and batch. */
export function loadPassthroughHeaders(
  store: ObjectStore,
  box: SecretBox,
  key: string | null | undefined,
): Promise<Record<string, string>> {
  if (!key) return Promise.resolve({});
  let headers = cache.get(key);
  if (!headers) {
    headers = store
      .get(key)
      .then((sealed) => (sealed ? (JSON.parse(box.open(sealed)) as Record<string, string>) : {}));
    cache.set(key, headers);
    // Forget failures so a later chunk tries again.
    headers.catch(() => cache.delete(key));
  }
  return headers;
}
