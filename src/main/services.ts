import { join, resolve } from 'node:path';
import type { Config } from '../config';
import { FsObjectStore } from '../storage/fs-store';
import { S3ObjectStore } from '../storage/s3-store';
import type { ObjectStore } from '../storage/object-store';

// Builders shared by every entry point (embedded, api, worker) and by the tests.

export function storageFor(config: Config): ObjectStore {
  if (config.STORAGE_URL)
    return new S3ObjectStore({
      url: config.STORAGE_URL,
      endpoint: config.AWS_ENDPOINT_URL,
      region: config.AWS_REGION,
    });
  return new FsObjectStore(join(resolve(config.DATA_DIR), 'storage'));
}

/** At start: an S3 bucket that does not exist or answer is one clear line (a ConfigError), not a retry loop. */
export async function checkStorage(store: ObjectStore): Promise<void> {
  if (store instanceof S3ObjectStore) await store.checkBucket();
}

/** Port of a host:port address. */
export const portOf = (address: string): number => Number(address.split(':').pop());
