// Starts batches with the Temporal Python SDK (test/python/start_batch.py, temporalio from .venv) by
// workflow type name: the result is the final Batch the HTTP API then serves; bad input fails at once.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { BatchResult } from '../src/contract/start-batch';
import { chatLine, readResultFile, toJsonl, uploadJsonl } from './harness/batches';
import { expectServedByApi } from './harness/read-back';
import { startStack, type Stack } from './harness/stack';

const ROOT = resolve(__dirname, '..');
const PYTHON = resolve(ROOT, '.venv/bin/python');
const SCRIPT = resolve(ROOT, 'test/python/start_batch.py');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((res) =>
    execFile(
      cmd,
      args,
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 100_000 },
      (err, stdout, stderr) =>
        res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

let stack: Stack;
beforeAll(async () => {
  // No silent skip: without the venv (or temporalio in it) every test here fails and says how to fix it.
  expect(existsSync(PYTHON), `${PYTHON} is missing: run \`npm run setup\` (needs python3 with venv)`).toBe(
    true,
  );
  const check = await run(PYTHON, ['-c', 'import temporalio.client']);
  expect(
    check.code,
    `temporalio is not importable from .venv (run \`npm run setup\`):\n${check.stderr}`,
  ).toBe(0);
  stack = await startStack();
});
afterAll(async () => stack?.close());

/** Runs start_batch.py; its last stdout line is the result (exit 0) or the failure (exit 1) as JSON. */
async function startFromPython(workflowId: string, input: Record<string, unknown>) {
  const { code, stdout, stderr } = await run(PYTHON, [SCRIPT, workflowId, JSON.stringify(input)], {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  expect(last.startsWith('{'), `no JSON line from start_batch.py (exit ${code}):\n${stdout}\n${stderr}`).toBe(
    true,
  );
  return { code, stderr, out: JSON.parse(last) as Record<string, unknown> };
}

const businessId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

it('a batch started from Python by type name completes; the HTTP API serves, lists and downloads it', async () => {
  const lines = Array.from({ length: 20 }, (_, i) =>
    chatLine(`py-${i}`, i % 2 ? 'gpt-4o-mini' : 'gpt-4o', `item ${i}`),
  );
  const file = await uploadJsonl(stack.openai, toJsonl(lines));
  const workflowId = businessId('nightly-enrich');
  const { code, stderr, out } = await startFromPython(workflowId, {
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { job: 'nightly-enrich' },
  });
  expect(code, `${JSON.stringify(out)}\n${stderr}`).toBe(0);
  const result = out as unknown as BatchResult;
  expect(result).toMatchObject({
    object: 'batch',
    status: 'completed',
    input_file_id: file.id,
    request_counts: { total: 20, completed: 20, failed: 0 },
    metadata: { job: 'nightly-enrich' },
  });
  expect(result.id).toMatch(/^batch_/);
  expect(result.output_file_id).toEqual(expect.any(String));
  expect(result.x_storage.output_file).toEqual(expect.any(String));

  await expectServedByApi(
    stack.openai,
    result,
    lines.map((l) => l.custom_id),
  );
  const output = await readResultFile(stack.openai, result.output_file_id);
  expect(output.every((l) => l.response?.status_code === 200)).toBe(true);
});

it('bad input from Python fails at once: ApplicationError of type InvalidBatchInput naming the field', async () => {
  const file = await uploadJsonl(stack.openai, toJsonl([chatLine('one', 'gpt-4o', 'hi')]));
  const workflowId = businessId('bad-endpoint');
  const t0 = Date.now();
  const { code, out } = await startFromPython(workflowId, {
    input_file_id: file.id,
    endpoint: '/v1/nope',
    completion_window: '24h',
  });
  const elapsedMs = Date.now() - t0; // includes the Python interpreter's start and connect
  expect(code, JSON.stringify(out)).toBe(1);
  expect(out).toMatchObject({
    error: 'WorkflowFailureError',
    cause: 'ApplicationError',
    type: 'InvalidBatchInput',
    message: expect.stringContaining('endpoint'),
  });
  expect(elapsedMs).toBeLessThan(10_000);

  // Failed within seconds of its start and without retries: every activity it ran, ran once.
  const handle = stack.client.workflow.getHandle(workflowId);
  const desc = await handle.describe();
  expect(desc.status.name).toBe('FAILED');
  expect(desc.closeTime!.getTime() - desc.startTime.getTime()).toBeLessThan(3_000);
  const { events } = await handle.fetchHistory();
  const attempts = events!.map((e) => e.activityTaskStartedEventAttributes?.attempt).filter(Boolean);
  expect(attempts.every((a) => a === 1)).toBe(true);
});
