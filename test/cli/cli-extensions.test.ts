// batchgw's commands for our extensions against a running stack: pause, resume, results, record.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayBatch } from '../../src/cli/batch-view';
import { RecordView } from '../../src/domain/record-view';
import { chatLine } from '../harness/batches';
import { startStack, type Stack } from '../harness/stack';
import { jsonlFile, linesOf, runInProcess, startCliProcess } from './run-cli';

let stack: Stack;
let baseUrl: string;
beforeAll(async () => {
  stack = await startStack({ MODEL_CONCURRENCY: '4' });
  baseUrl = `${stack.apiUrl}/v1`;
});
afterAll(async () => stack?.close());

const cli = (...args: string[]) => runInProcess([...args, '--base-url', baseUrl]);
const retrieve = async (id: string) => (await stack.openai.batches.retrieve(id)) as GatewayBatch;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Odd custom_ids travel percent-encoded in the record path. */
const ODD_IDS = ['constructor', '__proto__', 'a/b c%d?#'];

it('pause, status, wait, resume, results, record: the whole life of a paused batch from the command line', async () => {
  // A quick model that ends at once (odd ids, a retried line, a blocked one) and a slow one to pause.
  const lines = [
    ...ODD_IDS.map((id) => chatLine(id, 'quick', `odd ${id}`)),
    chatLine('retried', 'quick', 'again #sim:500x1'),
    chatLine('blocked', 'quick', 'no #sim:409'),
    ...Array.from({ length: 40 }, (_, i) => chatLine(`slow-${i}`, 'slow', `#sim:delay=500 ${i}`)),
  ];
  const submitted = await cli('submit', jsonlFile(lines));
  expect(submitted.code).toBe(0);
  const id = linesOf(submitted.stdout)[0];

  // Paused once the quick model is done (~5 s of slow lines still to go).
  await until('the quick model to finish', async () => {
    const b = await retrieve(id);
    return (b.request_counts?.completed ?? 0) + (b.request_counts?.failed ?? 0) >= 5;
  });
  const paused = await cli('pause', id);
  expect(paused.stderr).toBe('');
  expect(paused.code).toBe(0);
  const pausedAt = (await retrieve(id)).x_paused_at!;
  expect(typeof pausedAt).toBe('number');
  expect(paused.stdout).toMatch(
    new RegExp(`^${id} in_progress, paused since \\d{4}-\\d\\d-\\d\\d [\\d:]+Z\\n$`),
  );
  // Pausing again changes nothing: the same moment.
  const again = await cli('pause', id, '--json');
  expect(again.code).toBe(0);
  expect((JSON.parse(again.stdout) as GatewayBatch).x_paused_at).toBe(pausedAt);

  // A process following it shows the pause (plain lines: its stdout is a pipe).
  const waiting = startCliProcess(['wait', id, '--interval', '0.2', '--base-url', baseUrl]);
  await until('the waiting process to show the pause', () => waiting.output().stdout.includes('(paused)'));
  expect(waiting.output().stdout).toMatch(/in_progress \(paused\) .*\| ETA paused/);
  const status = await cli('status', id);
  expect(linesOf(status.stdout)).toContainEqual(
    expect.stringMatching(/^ {2}status +in_progress \(paused\)$/),
  );
  expect(linesOf(status.stdout)).toContainEqual(expect.stringMatching(/^ {2}paused +since /));

  // The quick model's lines are finished while the slow one is held: results shows them already.
  const early = await cli('results', id);
  expect(early.code).toBe(0);
  const earlyIds = linesOf(early.stdout).map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
  expect(earlyIds).toEqual(expect.arrayContaining([...ODD_IDS, 'retried', 'blocked']));
  expect(earlyIds.length).toBeLessThan(45);

  const resumed = await cli('resume', id);
  expect(resumed.code).toBe(0);
  expect(resumed.stdout).toBe(`${id} in_progress, running\n`);
  const followed = await waiting.done;
  expect(followed.code).toBe(0);
  expect(linesOf(followed.stdout).pop()).toMatch(
    new RegExp(`^${id} completed: 45 requests, completed 44, failed 1`),
  );

  // After the end: every line once; --kind error is only the blocked one.
  const all = await cli('results', id);
  const allIds = linesOf(all.stdout).map((l) => (JSON.parse(l) as { custom_id: string }).custom_id);
  expect(allIds.sort()).toEqual(lines.map((l) => l.custom_id).sort());
  const errors = await cli('results', id, '--kind', 'error');
  expect(linesOf(errors.stdout).map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)).toEqual([
    'blocked',
  ]);
  const badKind = await cli('results', id, '--kind', 'both');
  expect(badKind.code).toBe(2);

  // One record: two attempts (a 500, then a 200), done, in the output file.
  const record = await cli('record', id, 'retried');
  expect(record.code).toBe(0);
  const shown = linesOf(record.stdout);
  expect(shown[0]).toBe(`retried  (batch ${id}, model quick)`);
  expect(shown[1]).toBe('  state     done, in the output file');
  expect(shown[2]).toMatch(/^ {2}# +started \(UTC\) +took +status +retry-after$/);
  expect(shown[3]).toMatch(/^ {2}1 +\d{4}-\d\d-\d\d [\d:.]+ +\d+ ms +500 +- *$/);
  expect(shown[4]).toMatch(/^ {2}2 +\d{4}-\d\d-\d\d [\d:.]+ +\d+ ms +200 +- *$/);
  expect(shown[5]).toMatch(/^ {2}result {4}\{"id":"batch_req_.*"custom_id":"retried"/);
  for (const customId of ODD_IDS) {
    const json = await cli('record', id, customId, '--json');
    expect(json.code, customId).toBe(0);
    const view = RecordView.parse(JSON.parse(json.stdout));
    expect(view.custom_id).toBe(customId);
    expect(view.state).toBe('done');
    expect(view.result_file).toBe('output');
  }
  const unknown = await cli('record', id, 'nope');
  expect(unknown.code).toBe(2);
  expect(linesOf(unknown.stderr)).toEqual([
    expect.stringMatching(/^batchgw record: 404 .*\(request_not_found\)$/),
  ]);

  // A finished batch cannot be paused or resumed: the 409's message and code, exit 2.
  const late = await cli('pause', id);
  expect(late.code).toBe(2);
  expect(late.stderr).toBe(
    `batchgw pause: 409 Cannot pause a batch with status 'completed'. (batch_not_pausable)\n`,
  );
  const lateResume = await cli('resume', id);
  expect(lateResume.code).toBe(2);
  expect(lateResume.stderr).toMatch(/\(batch_not_resumable\)\n$/);
});
