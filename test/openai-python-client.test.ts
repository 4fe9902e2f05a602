// Runs test/python/openai_surface.py — the whole Files + Batches surface through the official
// openai-python client from PyPI (installed into .venv by `npm run setup`) — against a live stack.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCommand } from './harness/run-command';
import { startStack, type Stack } from './harness/stack';

const ROOT = resolve(__dirname, '..');
const PYTHON = resolve(ROOT, '.venv/bin/python');
const SCRIPT = resolve(ROOT, 'test/python/openai_surface.py');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

it('openai-python: every Files + Batches method, typed errors, auto-pagination, with_raw_response', async () => {
  // No silent skip: without the venv this test fails and says how to make one.
  expect(
    existsSync(PYTHON),
    `${PYTHON} is missing: run \`npm run setup\` (needs python3 with venv) to install the openai Python client`,
  ).toBe(true);
  const check = await runCommand(PYTHON, ['-c', 'import openai'], { cwd: ROOT, timeoutMs: 30_000 });
  expect(
    check.code,
    `the openai package is not importable from .venv (run \`npm run setup\`):\n${check.output}`,
  ).toBe(0);

  const { code, output } = await runCommand(PYTHON, [SCRIPT], {
    cwd: ROOT,
    env: { OPENAI_BASE_URL: `${stack.apiUrl}/v1` },
    timeoutMs: 150_000,
  });
  expect(code, output).toBe(0);
  expect(output).toMatch(/^9 passed, 0 failed$/m);
}, 180_000);
