// batchgw submit --wait in a pseudo-terminal (util-linux `script`): the bar redraws, the final screen shows the counts.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chatLine } from '../harness/batches';
import { startStack, type Stack } from '../harness/stack';
import { CLI_SOURCE, jsonlFile, startProcess } from './run-cli';
import { renderScreen } from './terminal-screen';

let stack: Stack;
beforeAll(async () => {
  // 4 at a time per model: see the lines below.
  stack = await startStack({ MODEL_CONCURRENCY: '4' });
});
afterAll(async () => stack?.close());

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

it('submit --wait under a PTY: a redrawing three-line bar, then the final counts on screen', async () => {
  execFileSync('script', ['--version']); // util-linux; fails here, by name, if the machine lacks it
  // Counts move when a model's chunk ends: four models, 12 lines each, 3 rounds of 100 to 900 ms,
  // end one after another (~0.3, 0.9, 1.8, 2.7 s) — a dozen polls at 0.2 s see several frames.
  const lines = [
    ...[100, 300, 600, 900].flatMap((delay, m) =>
      Array.from({ length: 12 }, (_, i) => chatLine(`m${m}-${i}`, `model-${m}`, `#sim:delay=${delay} ${i}`)),
    ),
    chatLine('blocked-1', 'model-0', '#sim:409 one'),
    chatLine('blocked-2', 'model-3', '#sim:409 two'),
  ];
  const argv = [process.execPath, '--import', 'tsx', CLI_SOURCE, 'submit', jsonlFile(lines), '--wait'];
  argv.push('--interval', '0.2', '--base-url', `${stack.apiUrl}/v1`);
  // A 100-column terminal; `script -e` exits with the command's code.
  const command = `stty cols 100 rows 30; exec ${argv.map(quote).join(' ')}`;
  const run = startProcess('script', ['-qfec', command, '/dev/null'], { TERM: 'xterm-256color' });
  const { code, stdout: raw, stderr } = await run.done;
  expect(stderr).toBe('');
  expect(code, raw).toBe(0);

  // It drew on a terminal: cursor hidden then shown again, and moved back up over its 3 lines.
  expect(raw).toContain('\x1b[?25l');
  expect(raw.lastIndexOf('\x1b[?25h')).toBeGreaterThan(raw.indexOf('\x1b[?25l'));
  expect(raw.split('\x1b[2A').length - 1).toBeGreaterThanOrEqual(3);
  // Several frames, with counts that only grow.
  const done = [...raw.matchAll(/ (\d+)\/50 · /g)].map((m) => Number(m[1]));
  const distinct = [...new Set(done)];
  expect(distinct.length, raw).toBeGreaterThanOrEqual(3);
  expect(distinct).toEqual([...distinct].sort((a, b) => a - b));
  expect(distinct[distinct.length - 1]).toBe(50);

  const screen = renderScreen(raw);
  const id = screen[0];
  expect(id).toMatch(/^batch_[A-Za-z0-9]+$/);
  const batch = await stack.openai.batches.retrieve(id);
  expect(screen).toEqual([
    id,
    expect.stringMatching(/^█{24} 100% 50\/50 · [\d.]+ req\/s · ETA 0s$/),
    '  completed: completed 48 · failed 2',
    '  succeeded 48 · blocked 2 · flagged 0 · errored 0 · retried 0 · cached 0',
    `${id} completed: 50 requests, completed 48, failed 2 · output file ${batch.output_file_id} · error file ${batch.error_file_id}`,
  ]);
});
