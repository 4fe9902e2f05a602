// What a journaled result costs on S3 (the `s3` project only): one PUT per flush of a segment's
// journal, where results that finish while a PUT is under way share the next one; a compaction
// per segment when its chunk closes; finalize then reads each segment's journal with one GET.
import { HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../src/storage/layout';
import { S3ObjectStore } from '../src/storage/s3-store';
import { chatLine, createBatch, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

/** Counts the S3 requests of a client by command name. */
function countRequests(client: S3Client): Map<string, number> {
  const counts = new Map<string, number>();
  client.middlewareStack.add(
    (next, context) => (args) => {
      counts.set(context.commandName!, (counts.get(context.commandName!) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return counts;
}

async function partsUnder(store: S3ObjectStore, batchId: string): Promise<number> {
  const prefix = store
    .referenceOf('x')
    .replace(/^s3:\/\/[^/]+\//, '')
    .replace(/x$/, '');
  let n = 0;
  let token: string | undefined;
  do {
    const page = await store.client.send(
      new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    n += (page.Contents ?? []).filter(
      (o) => o.Key!.includes(batchId) && o.Key!.includes('.journal.parts/'),
    ).length;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return n;
}

describe.each([
  // Many lanes: results finishing during a PUT share the next one.
  { name: '100 lanes', concurrency: '100', requests: 400 },
  // One lane: the most an append can cost — one PUT per result, or fewer: the lane sends its next
  // request while the last result is written, and one finishing during that PUT shares the next.
  { name: 'one lane', concurrency: '1', requests: 40 },
])('journal PUTs per request on S3: $name', ({ concurrency, requests }) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ MODEL_CONCURRENCY: concurrency }, { latencyMs: 5 });
  });
  afterAll(async () => stack?.close());

  it('at most one PUT per request, and every segment compacted (read back with one GET)', async () => {
    expect(stack.store).toBeInstanceOf(S3ObjectStore);
    const store = stack.store as S3ObjectStore;
    const counts = countRequests(store.client);
    const lines = Array.from({ length: requests }, (_, i) => chatLine(`r-${i}`, 'm-a', `line ${i}`));
    const batch = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, batch.id);
    expect(done.request_counts).toMatchObject({ total: requests, completed: requests });
    const parts = await partsUnder(store, batch.id);
    const segments = Math.ceil(requests / 100);
    console.log(
      `${requests} requests, MODEL_CONCURRENCY=${concurrency}: ${parts} journal parts ` +
        `(${(parts / requests).toFixed(3)} PUTs per request), ${segments} segments; all S3 requests: ` +
        JSON.stringify(Object.fromEntries(counts)),
    );
    expect(parts).toBeLessThanOrEqual(requests);
    if (concurrency === '1') expect(parts).toBeGreaterThanOrEqual(segments);
    else expect(parts).toBeLessThan(requests / 2);
    const prefix = store
      .referenceOf('x')
      .replace(/^s3:\/\/[^/]+\//, '')
      .replace(/x$/, '');
    for (let seg = 0; seg < segments; seg++) {
      const head = await store.client.send(
        new HeadObjectCommand({
          Bucket: store.bucket,
          Key: prefix + layout.journal('default', batch.id, 0, seg),
        }),
      );
      expect(Number(head.Metadata?.['journal-parts'])).toBeGreaterThan(0);
    }
  });
});
