// One real S3-compatible server (versitygw) for the whole test run, shared by every vitest project:
// global-setup.ts runs once per project, so the server is kept on globalThis (the projects' global
// setups run in the same process) and stopped when the last project tears down.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { S3ObjectStore } from '../../src/storage/s3-store';
import { findVersitygw, startVersitygw, type Versitygw } from '../../src/storage/versitygw';
import { freePort } from './ports';
import { s3EnvOf } from './process-env';

/** What the tests get through `inject('s3')`. */
export interface S3TestServer {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
}

/** The answer when versitygw is not installed: the S3 tests fail with it (the others run). */
export interface S3Missing {
  missing: string;
}

interface Shared {
  users: number;
  started: Promise<{ server: Versitygw | null; dir: string; info: S3TestServer | S3Missing }>;
}
const KEY = Symbol.for('temporal-batch-gateway.test.s3');
const registry = globalThis as unknown as Record<symbol, Shared | undefined>;

export async function acquireS3Server(): Promise<S3TestServer | S3Missing> {
  const shared = (registry[KEY] ??= {
    users: 0,
    started: (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'batchgw-s3-'));
      if (!findVersitygw())
        return {
          server: null,
          dir,
          info: { missing: 'versitygw is not installed: run `npm run setup` (or set VERSITYGW_PATH)' },
        };
      const server = await startVersitygw({ port: await freePort(), dir });
      const bucket = 'batchgw-test';
      await server.createBucket(bucket);
      return {
        server,
        dir,
        info: {
          endpoint: server.endpoint,
          accessKeyId: server.accessKeyId,
          secretAccessKey: server.secretAccessKey,
          bucket,
        },
      };
    })(),
  });
  shared.users++;
  return (await shared.started).info;
}

export async function releaseS3Server(): Promise<void> {
  const shared = registry[KEY];
  if (!shared || --shared.users > 0) return;
  registry[KEY] = undefined;
  const { server, dir } = await shared.started;
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** The shared server, in a test; throws the reason when it is not there. */
export function s3Server(): S3TestServer {
  const info = inject('s3');
  if ('missing' in info) throw new Error(info.missing);
  return info;
}

/** True when this vitest project runs its stacks on S3 (`TEST_STORAGE=s3`, see vitest.config.mts). */
export const onS3 = (): boolean => process.env.TEST_STORAGE === 's3';

/** The environment of a process on S3 under a fresh prefix of the shared bucket. */
export function s3Env(prefix?: string): Record<string, string> {
  return s3EnvOf(s3Server(), prefix);
}

/** An S3 store under a fresh prefix of the shared bucket. */
export function s3Store(prefix = `t-${randomBytes(6).toString('hex')}`, pageSize?: number): S3ObjectStore {
  const s3 = s3Server();
  return new S3ObjectStore({
    pageSize,
    url: `s3://${s3.bucket}/${prefix}`,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
}
