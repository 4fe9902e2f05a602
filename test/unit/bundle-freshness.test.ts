// `npm run build` re-bundles the workflow code only when an input changed (bundle-workflows.ts
// --if-stale): a bundle is fresh while every file webpack read hashes the same and the options match.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { bundleIsFresh, inputsOf, workflowBundleOptions } from '../../src/temporal/bundle-workflows';

let dir: string;
let out: string;
let input: string;
const options = workflowBundleOptions();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bundle-fresh-'));
  out = join(dir, 'workflow-bundle.js');
  input = join(dir, 'workflow.ts');
  writeFileSync(input, 'export const a = 1;\n');
  writeFileSync(out, '/* bundle */');
  // A directory and a file that never existed (webpack lists both) are recorded as missing.
  const inputs = inputsOf([input, dir, join(dir, 'generated-entrypoint.cjs')], options);
  writeFileSync(`${out}.inputs.json`, JSON.stringify(inputs));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('is fresh while nothing changed', () => {
  expect(bundleIsFresh(out, options)).toBe(true);
});

it('is stale when an input file changes, even to the same size', () => {
  writeFileSync(input, 'export const a = 2;\n');
  expect(bundleIsFresh(out, options)).toBe(false);
});

it('is stale when an input file is removed or a missing one appears', () => {
  unlinkSync(input);
  expect(bundleIsFresh(out, options)).toBe(false);
  writeFileSync(input, 'export const a = 1;\n');
  expect(bundleIsFresh(out, options)).toBe(true);
  writeFileSync(join(dir, 'generated-entrypoint.cjs'), '');
  expect(bundleIsFresh(out, options)).toBe(false);
});

it('is stale when the interceptor modules change', () => {
  const more = {
    ...options,
    workflowInterceptorModules: [...(options.workflowInterceptorModules ?? []), 'x'],
  };
  expect(bundleIsFresh(out, more)).toBe(false);
});

it('is stale without the bundle or its record', () => {
  unlinkSync(`${out}.inputs.json`);
  expect(bundleIsFresh(out, options)).toBe(false);
  writeFileSync(`${out}.inputs.json`, '{ not json');
  expect(bundleIsFresh(out, options)).toBe(false);
  rmSync(dir, { recursive: true, force: true });
  expect(bundleIsFresh(out, options)).toBe(false);
});
