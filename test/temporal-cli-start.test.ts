// Starts batches with the `temporal` CLI (`workflow start --type batchWorkflow --input '<json>'`, then
// `workflow result -o json`): an uploaded file, a storage reference, and bad input failing with InvalidBatchInput.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { BatchResult } from '../src/contract/start-batch';
import { findTemporalCli } from '../src/temporal/cli-path';
import { chatLine, toJsonl, uploadJsonl } from './harness/batches';
import { expectServedByApi } from './harness/read-back';
import { startStack, type Stack } from './harness/stack';

const CLI = findTemporalCli();

/** What `temporal workflow result -o json` prints (CLI v1.5.1). */
interface CliResult {
  status: string;
  result?: BatchResult;
  closeEvent?: {
    workflowExecutionFailedEventAttributes?: {
      failure: { message: string; applicationFailureInfo?: { type: string } };
    };
  };
}

let stack: Stack;
beforeAll(async () => {
  expect(CLI, 'no temporal CLI found: run `npm run setup`').not.toBeNull();
  stack = await startStack();
});
afterAll(async () => stack?.close());

function temporal(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const conn = ['--address', inject('temporalAddress'), '--namespace', 'default', '--output', 'json'];
  return new Promise((res) =>
    execFile(CLI!, [...args, ...conn], { timeout: 100_000 }, (err, stdout, stderr) =>
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    ),
  );
}

/** `temporal workflow start …` then `temporal workflow result …`: the parsed result and its exit code. */
async function startAndWait(workflowId: string, input: Record<string, unknown>) {
  const queue = stack.config.TEMPORAL_TASK_QUEUE;
  const start = await temporal(
    ...`workflow start --type batchWorkflow --task-queue ${queue} --workflow-id ${workflowId}`.split(' '),
    ...['--input', JSON.stringify(input)],
  );
  expect(start.code, start.stderr).toBe(0);
  expect(JSON.parse(start.stdout)).toMatchObject({ workflowId, type: 'batchWorkflow' });
  const res = await temporal('workflow', 'result', '--workflow-id', workflowId);
  return { code: res.code, out: JSON.parse(res.stdout) as CliResult, stderr: res.stderr };
}

const businessId = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;
const lines = Array.from({ length: 20 }, (_, i) =>
  chatLine(`cli-${i}`, i % 2 ? 'gpt-4o-mini' : 'gpt-4o', `n ${i}`),
);

it('temporal workflow start with an uploaded input_file_id completes; the HTTP API serves the batch', async () => {
  const file = await uploadJsonl(stack.openai, toJsonl(lines));
  const { code, out, stderr } = await startAndWait(businessId('nightly-enrich'), {
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    metadata: { via: 'temporal-cli' },
  });
  expect(code, `${JSON.stringify(out)}\n${stderr}`).toBe(0);
  expect(out.status).toBe('COMPLETED');
  const result = out.result!;
  expect(result).toMatchObject({
    status: 'completed',
    input_file_id: file.id,
    request_counts: { total: 20, completed: 20, failed: 0 },
    metadata: { via: 'temporal-cli' },
  });
  expect(result.id).toMatch(/^batch_/);
  expect(result.x_storage.output_file).toEqual(expect.any(String));
  await expectServedByApi(
    stack.openai,
    result,
    lines.map((l) => l.custom_id),
  );
});

it('a storage reference (input_file) is registered as a Files API file and the batch completes', async () => {
  await stack.store.put('imports/nightly.jsonl', toJsonl(lines));
  const { code, out, stderr } = await startAndWait(businessId('nightly-import'), {
    input_file: 'imports/nightly.jsonl',
    endpoint: '/v1/chat/completions',
  });
  expect(code, `${JSON.stringify(out)}\n${stderr}`).toBe(0);
  const result = out.result!;
  expect(result).toMatchObject({ status: 'completed', request_counts: { total: 20, completed: 20 } });
  expect(result.input_file_id).toMatch(/^file-/);
  expect(result.x_storage.input_file).toEqual(expect.any(String));
  const files: { id: string; purpose: string }[] = [];
  for await (const f of stack.openai.files.list()) files.push(f);
  expect(files).toContainEqual(expect.objectContaining({ id: result.input_file_id, purpose: 'batch' }));
  await expectServedByApi(
    stack.openai,
    result,
    lines.map((l) => l.custom_id),
  );
});

it('bad input (no input file) fails the workflow at once with InvalidBatchInput naming input_file_id', async () => {
  const workflowId = businessId('no-input');
  const { code, out } = await startAndWait(workflowId, { endpoint: '/v1/chat/completions' });
  expect(code).not.toBe(0);
  expect(out.status).toBe('FAILED');
  const failure = out.closeEvent?.workflowExecutionFailedEventAttributes?.failure;
  expect(failure?.applicationFailureInfo?.type).toBe('InvalidBatchInput');
  expect(failure?.message).toContain('input_file_id');

  const describe = await temporal('workflow', 'describe', '--workflow-id', workflowId);
  expect(describe.code, describe.stderr).toBe(0);
  const info = JSON.parse(describe.stdout) as {
    workflowExecutionInfo: { status: string; executionDuration: string };
  };
  expect(info.workflowExecutionInfo.status).toBe('WORKFLOW_EXECUTION_STATUS_FAILED');
  expect(parseFloat(info.workflowExecutionInfo.executionDuration)).toBeLessThan(3);
});
