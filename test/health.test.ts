import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { BatchService } from '../src/api/batch-service';
import { SecretBox } from '../src/security/secret-box';
import { buildApiServer } from '../src/api/server';
import { FileRepository } from '../src/storage/file-repository';
import { FsObjectStore } from '../src/storage/fs-store';
import { freePort } from './harness/ports';

// /health answers 200 only when the API can reach Temporal (the 200 case is in batches-api.test.ts).
describe('health without Temporal', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup) await c();
  });

  it('answers 503 while Temporal is unreachable', async () => {
    const connection = Connection.lazy({ address: `127.0.0.1:${await freePort()}`, connectTimeout: 500 });
    const store = new FsObjectStore('/tmp/batchgw-health-unused');
    const app = await buildApiServer({
      store,
      files: new FileRepository(store),
      batches: new BatchService(new Client({ connection }), 'q', store),
      maxUploadBytes: 1024,
      completionWindows: ['24h'],
      secrets: new SecretBox(randomBytes(32)),
      logLevel: 'silent',
    });
    cleanup.push(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'temporal_unreachable' });
  });
});
