import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layout } from '../src/storage/layout';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Failures that no retry can mend end the batch `failed` with a precise error in bounded time,
// and never re-send requests in a loop: an input segment gone from storage, a disk that is full.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ SEGMENT_SIZE: '10', MODEL_CONCURRENCY: '10' }, { latencyMs: 100 });
});
afterAll(async () => {
  await stack?.close();
});

const storagePath = (key: string) => join(stack.config.DATA_DIR, 'storage', key);
const lines = (n: number) => Array.from({ length: n }, (_, i) => chatLine(`d-${i}`, 'm-d', `item ${i}`));

/** Every request reached the gateway at most once: nothing was re-sent by a retry loop. */
function expectNoRepeats(batchId: string): void {
  const calls = Object.values(stack.sim.records(batchId));
  expect(calls.length).toBeGreaterThan(0);
  expect(Math.max(...calls)).toBe(1);
}

/** Whether this process may mount a tmpfs (root in a container that allows it). */
function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'batchgw-mount-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

describe('deterministic failures', () => {
  it('an input segment missing from storage fails the batch at once, naming the segment', async () => {
    const created = await createBatch(stack.openai, lines(600));
    await waitForBatch(stack.openai, created.id, (b) => b.status === 'in_progress');
    // 60 segments of 10, about 3 chunks in flight: segment 40 is read well after this.
    rmSync(storagePath(layout.segment('default', created.id, 0, 40)));
    const t0 = Date.now();
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('failed');
    expect(Date.now() - t0).toBeLessThan(30_000);
    const messages = done.errors!.data.map((e) => e.message).join('\n');
    expect(messages).toMatch(/segment 40 of model 0 .* missing/);
    // Finalize refuses to write files short of a line, and says why.
    expect(messages).toMatch(/finalizing the batch failed/);
    expect(done.output_file_id).toBeNull();
    expectNoRepeats(created.id);
  });

  // Needs a tmpfs mount to fill a real disk (root here and in CI). /dev/full cannot stand in for
  // an end-to-end run: finalize would read its endless zeros; test/unit/storage-failures.test.ts
  // covers the journal on /dev/full without privileges.
  it.skipIf(!canMountTmpfs())(
    'a full disk under the journals fails the batch with ENOSPC, without re-sending requests',
    async () => {
      const created = await createBatch(stack.openai, lines(600));
      // Before any chunk writes: the batch's journals go to a 64 KiB filesystem (~150 results).
      const parts = dirname(dirname(storagePath(layout.journal('default', created.id, 0, 0))));
      mkdirSync(parts, { recursive: true });
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', parts]);
      try {
        const done = await waitForBatch(stack.openai, created.id);
        expect(done.status).toBe('failed');
        expect(done.errors!.data[0].message).toMatch(/ENOSPC/);
        expect(stack.sim.batch(created.id).calls).toBeLessThan(600);
        expectNoRepeats(created.id);
        // The files are written outside the full disk: every line once, the rest `batch_failed`.
        const output = await readResultFile(stack.openai, done.output_file_id);
        const errors = await readResultFile(stack.openai, done.error_file_id);
        expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(600);
        expect(output.length + errors.length).toBe(600);
      } finally {
        execFileSync('umount', ['-l', parts]);
      }
    },
  );
});
