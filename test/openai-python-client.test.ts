// Runs test/python/openai_surface.py — the whole Files + Batches surface through the official
// openai-python client from PyPI (installed into .venv by `npm run setup`) — against a live stack.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startStack, type Stack } from './harness/stack';

const ROOT = resolve(__dirname, '..');
const PYTHON = resolve(ROOT, '.venv/bin/python');
const SCRIPT = resolve(ROOT, 'test/python/openai_surface.py');

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

function run(cmd: string, args: string[], env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((res) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      output += `\n(killed after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, output });
    });
  });
}

it('openai-python: every Files + Batches method, typed errors, auto-pagination, with_raw_response', async () => {
  // No silent skip: without the venv this test fails and says how to make one.
  expect(
    existsSync(PYTHON),
    `${PYTHON} is missing: run \`npm run setup\` (needs python3 with venv) to install the openai Python client`,
  ).toBe(true);
  const check = await run(PYTHON, ['-c', 'import openai'], {}, 30_000);
  expect(
    check.code,
    `the openai package is not importable from .venv (run \`npm run setup\`):\n${check.output}`,
  ).toBe(0);

  const { code, output } = await run(PYTHON, [SCRIPT], { OPENAI_BASE_URL: `${stack.apiUrl}/v1` }, 150_000);
  expect(code, output).toBe(0);
  expect(output).toMatch(/^9 passed, 0 failed$/m);
}, 180_000);
