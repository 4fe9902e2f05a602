import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DevServer } from '../src/temporal/dev-server';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startRolloverServer } from './harness/rollover-server';
import { startStack, type Stack } from './harness/stack';

// A Temporal server that suggests continue-as-new after 60 history events, so a modest batch
// exercises what a huge one does: per-model children roll over many times, results stay exact.
let server: DevServer;
let stack: Stack;
beforeAll(async () => {
  server = await startRolloverServer();
  stack = await startStack(
    // One segment a chunk: 150 chunks, so each child rolls over several times.
    { TEMPORAL_ADDRESS: server.address, SEGMENT_SIZE: '10', CHUNK_REQUESTS: '10', MODEL_CONCURRENCY: '20' },
    { latencyMs: 2 },
  );
});
afterAll(async () => {
  await stack?.close();
  await server?.stop();
});

describe('continue-as-new', () => {
  it('rolls per-model workflows over and keeps every result exactly once', async () => {
    const n = 1500;
    const lines = Array.from({ length: n }, (_, i) => chatLine(`c-${i}`, i % 2 ? 'm-a' : 'm-b', `line ${i}`));
    const created = await createBatch(stack.openai, lines);
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({ total: n, completed: n, failed: 0 });

    const runsPerChild = new Map<string, number>();
    for await (const wf of stack.client.workflow.list({
      query: `WorkflowId STARTS_WITH '${created.id}-model-'`,
    })) {
      runsPerChild.set(wf.workflowId, (runsPerChild.get(wf.workflowId) ?? 0) + 1);
      expect(wf.historyLength).toBeLessThan(200);
    }
    expect(runsPerChild.size).toBe(2);
    for (const runs of runsPerChild.values()) expect(runs).toBeGreaterThan(2);

    const output = await readResultFile(stack.openai, done.output_file_id);
    expect(output).toHaveLength(n);
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(n);
    // Each request reached the gateway once: rolling over never re-ran finished chunks.
    expect(stack.sim.batch(created.id).calls).toBe(n);
  });
});
