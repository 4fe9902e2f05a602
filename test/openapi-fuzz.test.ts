// Property-based fuzzing of the whole API from its OpenAPI document: schemathesis (PyPI, installed
// into .venv by `npm run setup`) against a live stack, failing on any 5xx, any status or content
// type the spec does not list, and any answer body that breaks its schema. Bounded: a few examples
// per operation, so the run stays well under three minutes on a loaded machine.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import OpenAI from 'openai';
import { chatLine, toJsonl, uploadJsonl } from './harness/batches';
import { runCommand } from './harness/run-command';
import { startStack, type Stack } from './harness/stack';

const ROOT = resolve(__dirname, '..');
const SCHEMATHESIS = resolve(ROOT, '.venv/bin/schemathesis');
const KEY = 'sk-fuzz-3d6f0a9b1c27';
/** Test cases per operation and phase (FUZZ_MAX_EXAMPLES to dig deeper by hand: 100 takes ~3 min). */
const MAX_EXAMPLES = process.env.FUZZ_MAX_EXAMPLES ?? '25';
/** FUZZ_CHECKS (comma-separated, or `all`) to try schemathesis's other checks by hand. */
const CHECKS =
  process.env.FUZZ_CHECKS ??
  [
    'not_a_server_error',
    'status_code_conformance',
    'content_type_conformance',
    'response_headers_conformance',
    'response_schema_conformance',
  ].join(',');

const dir = mkdtempSync(join(tmpdir(), 'batchgw-fuzz-'));
let stack: Stack;

beforeAll(async () => {
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify({ [KEY]: 'fuzz' }));
  stack = await startStack({ API_KEYS_FILE: keysFile, MAX_UPLOAD_BYTES: String(1024 * 1024) });
  // A finished batch with output and error lines, so list answers hold real Batch and File objects.
  const openai = new OpenAI({ baseURL: `${stack.apiUrl}/v1`, apiKey: KEY });
  const file = await uploadJsonl(
    openai,
    toJsonl([chatLine('a', 'm-1', 'hi'), chatLine('b', 'm-1', 'no #sim:400')]),
  );
  const batch = await openai.batches.create({
    input_file_id: file.id,
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
  });
  for (let b = batch; !['completed', 'failed'].includes(b.status);) {
    await new Promise((r) => setTimeout(r, 200));
    b = await openai.batches.retrieve(batch.id);
  }
});
afterAll(async () => {
  await stack?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('schemathesis finds no 5xx and no answer outside the spec', async () => {
  // No silent skip: without schemathesis this test fails and says how to install it.
  expect(existsSync(SCHEMATHESIS), `${SCHEMATHESIS} is missing: run \`npm run setup\``).toBe(true);
  const junit = join(dir, 'junit.xml');
  const args = [
    'run',
    `${stack.apiUrl}/openapi.json`,
    '--checks',
    CHECKS,
    '--max-examples',
    MAX_EXAMPLES,
    '--phases',
    'examples,coverage,fuzzing,stateful',
    '--header',
    `Authorization: Bearer ${KEY}`,
    // One worker: with two threads, Python 3.11's ast.parse (called by hypothesis) can fail
    // with "AST constructor recursion depth mismatch", a crash inside the fuzzer, not our API.
    '--workers',
    '1',
    '--request-timeout',
    '20',
    '--generation-database',
    'none',
    '--no-color',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
  ];
  const started = Date.now();
  // Its own working directory: schemathesis and hypothesis write caches beside it.
  const { code, output } = await runCommand(SCHEMATHESIS, args, { cwd: dir, timeoutMs: 210_000 });
  // What it ran, for the CI log: the command, its summary, and the seed to reproduce it.
  console.log(
    `schemathesis ${args.join(' ').replace(KEY, '<key>')}\n(${Math.round((Date.now() - started) / 1000)} s)\n${output}`,
  );
  expect(code, output).toBe(0);
  const report = existsSync(junit) ? readFileSync(junit, 'utf8') : '';
  expect(report, 'no JUnit report').toMatch(/<testsuite /);
  const operations = [...report.matchAll(/<testcase [^>]*name="([^"]+)"/g)].map((m) => m[1]);
  console.log(`operations fuzzed (${operations.length}):\n  ${operations.join('\n  ')}`);
  // Every operation of the document but the document itself (schemathesis leaves its own source out).
  const doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
  );
  expect(operations).toEqual(expect.arrayContaining(documented.filter((op) => op !== 'GET /openapi.json')));
  expect(report).not.toMatch(/<failure|<error/);
}, 240_000);
