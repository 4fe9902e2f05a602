// batchgw against a running stack: submit --wait, status, list, download, replay, cancel, and every error path.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayBatch } from '../../src/cli/batch-view';
import { chatLine } from '../harness/batches';
import { freePort } from '../harness/ports';
import { startStack, type Stack } from '../harness/stack';
import {
  jsonlFile,
  linesOf,
  ROOT,
  runCliProcess,
  runInProcess,
  startCliProcess,
  startProcess,
} from './run-cli';

// Four requests at a time per model: a batch of slow lines runs long enough to be cancelled.
let stack: Stack;
let baseUrl: string;
beforeAll(async () => {
  stack = await startStack({ MODEL_CONCURRENCY: '4' });
  baseUrl = `${stack.apiUrl}/v1`;
});
afterAll(async () => stack?.close());

/** `batchgw ARGS… --base-url <the stack>`, in this process. */
const cli = (...args: string[]) => runInProcess([...args, '--base-url', baseUrl]);

const retrieve = async (id: string) => (await stack.openai.batches.retrieve(id)) as GatewayBatch;

/** 10 answered lines over two models, one of them after a 500; two blocked by policy (409). */
const mixedLines = () => [
  ...Array.from({ length: 9 }, (_, i) => chatLine(`ok-${i}`, i % 2 ? 'gpt-4o' : 'gpt-4o-mini', `item ${i}`)),
  chatLine('retried', 'gpt-4o-mini', 'once more #sim:500x1'),
  chatLine('blocked-1', 'gpt-4o-mini', 'forbidden #sim:409'),
  chatLine('blocked-2', 'gpt-4o', 'forbidden #sim:409'),
];

describe('a finished batch', () => {
  let batchId = '';

  it('submit --wait uploads, creates (endpoint from the first line), follows to completed: exit 0, counts printed', async () => {
    const path = jsonlFile(mixedLines());
    const { code, stdout, stderr } = await cli(
      'submit',
      path,
      '--wait',
      '--interval',
      '0.2',
      '--metadata',
      'team=data',
      '--metadata',
      'constructor=x',
      '--metadata',
      'query=a=b',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = linesOf(stdout);
    batchId = lines[0];
    expect(batchId).toMatch(/^batch_/);
    const batch = await retrieve(batchId);
    expect(batch.status).toBe('completed');
    expect(batch.endpoint).toBe('/v1/chat/completions');
    // Keys that are JavaScript words arrive as plain keys.
    expect(Object.entries(batch.metadata ?? {})).toEqual([
      ['team', 'data'],
      ['constructor', 'x'],
      ['query', 'a=b'],
    ]);
    // Not a terminal: plain progress lines, the last one with every count, then the final line.
    const progress = lines.slice(1, -1);
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.every((l) => l.includes(batchId))).toBe(true);
    const last = progress[progress.length - 1];
    expect(last).toContain('completed 12/12 100% completed 10 · failed 2');
    expect(last).toContain('succeeded 10 · blocked 2 · flagged 0 · errored 0 · retried 1 · cached 0');
    expect(lines[lines.length - 1]).toBe(
      `${batchId} completed: 12 requests, completed 10, failed 2 · output file ${batch.output_file_id} · error file ${batch.error_file_id}`,
    );
  });

  it('status: a readable summary, and the Batch as JSON', async () => {
    const { code, stdout } = await cli('status', batchId);
    expect(code).toBe(0);
    const lines = linesOf(stdout);
    expect(lines[0]).toBe(batchId);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}status +completed$/));
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}requests +12\/12 done: completed 10, failed 2$/),
    );
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {2}governance +succeeded 10 · blocked 2 · .*retried 1/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}metadata +team=data constructor=x query=a=b$/));
    // Per model (x_models), under the totals.
    expect(lines).toContainEqual(
      expect.stringMatching(/^ {4}gpt-4o-mini +7\/7 done: completed 6, failed 1$/),
    );
    expect(lines).toContainEqual(expect.stringMatching(/^ {4}gpt-4o +5\/5 done: completed 4, failed 1$/));
    const json = await cli('status', batchId, '--json');
    expect(json.code).toBe(0);
    const batch = JSON.parse(json.stdout) as GatewayBatch;
    expect(batch.id).toBe(batchId);
    expect(batch.request_counts).toEqual({ total: 12, completed: 10, failed: 2 });
  });

  it('list: newest first, --limit, --status, --json', async () => {
    const all = await cli('list');
    expect(all.code).toBe(0);
    const rows = linesOf(all.stdout);
    expect(rows[0]).toMatch(/^ID +STATUS +DONE +CREATED \(UTC\) +ENDPOINT$/);
    expect(rows.find((r) => r.startsWith(batchId))).toMatch(/ completed +12\/12 .* \/v1\/chat\/completions$/);

    const one = await cli('list', '--limit', '1', '--json');
    expect(one.code).toBe(0);
    expect(linesOf(one.stdout)).toHaveLength(1);

    const completed = await cli('list', '--status', 'completed', '--json');
    const statuses = linesOf(completed.stdout).map((l) => (JSON.parse(l) as GatewayBatch).status);
    expect(statuses.length).toBeGreaterThanOrEqual(1);
    expect(new Set(statuses)).toEqual(new Set(['completed']));
    const cancelled = await cli('list', '--status', 'cancelling', '--json');
    expect(linesOf(cancelled.stdout).some((l) => l.includes(batchId))).toBe(false);

    const bad = await cli('list', '--status', 'done');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^batchgw list: --status must be one of validating, .* not 'done'/);
  });

  it('npx batchgw from the checkout: the package bin (bin/batchgw → dist/cli/main.js), configured by OPENAI_BASE_URL', async () => {
    const env = { OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: 'test-key' };
    const version = await startProcess('npx', ['batchgw', '--version'], env).done;
    expect(version.stderr).toBe('');
    expect(version.code).toBe(0);
    expect(version.stdout).toBe(
      `${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`,
    );
    const listed = await startProcess('npx', ['batchgw', 'list', '--json'], env).done;
    expect(listed.code, listed.stderr).toBe(0);
    expect(linesOf(listed.stdout).map((l) => (JSON.parse(l) as GatewayBatch).id)).toContain(batchId);
  });

  it('download writes the output and the error file and prints their paths', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'batchgw-dl-')), 'nested', 'out');
    const { code, stdout } = await cli('download', batchId, '--out', dir);
    expect(code).toBe(0);
    const output = join(dir, `${batchId}_output.jsonl`);
    const error = join(dir, `${batchId}_error.jsonl`);
    expect(linesOf(stdout)).toEqual([output, error]);
    const ids = (path: string) =>
      linesOf(readFileSync(path, 'utf8'))
        .map((l) => (JSON.parse(l) as { custom_id: string }).custom_id)
        .sort();
    expect(ids(output)).toEqual([...Array.from({ length: 9 }, (_, i) => `ok-${i}`), 'retried'].sort());
    expect(ids(error)).toEqual(['blocked-1', 'blocked-2']);
    expect(existsSync(`${output}.partial`)).toBe(false);
  });

  it('replay --codes: a new batch of the matching failed lines (waited for); no match is exit 2', async () => {
    const { code, stdout } = await cli('replay', batchId, '--codes', '409', '--wait', '--interval', '0.2');
    // The replayed lines are blocked again, but the replay batch itself completes.
    expect(code).toBe(0);
    const lines = linesOf(stdout);
    const replayId = lines[0];
    expect(replayId).toMatch(/^batch_/);
    expect(replayId).not.toBe(batchId);
    expect(lines[lines.length - 1]).toMatch(
      new RegExp(`^${replayId} completed: 2 requests, completed 0, failed 2`),
    );
    expect((await retrieve(replayId)).x_replay_of).toBe(batchId);

    const none = await cli('replay', batchId, '--codes', 'request_timeout');
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(linesOf(none.stderr)).toEqual([
      expect.stringMatching(/^batchgw replay: 400 .*\(nothing_to_replay\)$/),
    ]);
  });

  it('status of an unknown batch: exit 2, the 404 in one line', async () => {
    const missing = await cli('status', 'batch_0000000000000000000000000');
    expect(missing.code).toBe(2);
    expect(linesOf(missing.stderr)).toEqual([expect.stringMatching(/^batchgw status: 404 /)]);
  });
});

describe('batches that do not complete', () => {
  it('a batch that fails validation: submit --wait exits 1 and says why', async () => {
    const path = jsonlFile([
      chatLine('a', 'gpt-4o-mini', 'hi'),
      'this is not JSON',
      chatLine('c', 'gpt-4o-mini', 'hi'),
    ]);
    const { code, stdout } = await cli('submit', path, '--wait', '--interval', '0.2');
    expect(code).toBe(1);
    const lines = linesOf(stdout);
    expect(lines[lines.length - 1]).toMatch(
      new RegExp(`^${lines[0]} failed \\(invalid_json_line: .*\\): \\d+ requests, completed 0, failed 0$`),
    );
    const download = await cli('download', lines[0]);
    expect(download.code).toBe(2);
    expect(download.stderr).toBe(
      `batchgw download: ${lines[0]} has no output or error file yet (status failed)\n`,
    );
  });

  it('cancel: prints cancelling; a waiting batchgw process exits 1 with the cancelled counts', async () => {
    const slow = Array.from({ length: 60 }, (_, i) =>
      chatLine(`slow-${i}`, 'gpt-4o-mini', `#sim:delay=400 ${i}`),
    );
    const submitted = await cli('submit', jsonlFile(slow));
    expect(submitted.code).toBe(0);
    const id = linesOf(submitted.stdout)[0];
    // Another process follows it, through the openai package's environment variables this time.
    const waiting = startCliProcess(['wait', id, '--interval', '0.3'], {
      OPENAI_BASE_URL: baseUrl,
      OPENAI_API_KEY: 'test-key',
    });
    const deadline = Date.now() + 60_000;
    while (!waiting.output().stdout.includes(' in_progress ') && waiting.child.exitCode === null) {
      if (Date.now() > deadline)
        throw new Error(`wait printed no progress: ${JSON.stringify(waiting.output())}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const cancelled = await cli('cancel', id);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toBe(`${id} cancelling\n`);
    const { code, stdout, stderr } = await waiting.done;
    expect(stderr).toBe('');
    expect(code).toBe(1);
    const last = linesOf(stdout).pop()!;
    expect(last).toMatch(new RegExp(`^${id} cancelled: 60 requests, completed \\d+, failed \\d+`));
    const batch = await retrieve(id);
    expect(batch.status).toBe('cancelled');
    expect(last).toContain(
      `completed ${batch.request_counts!.completed}, failed ${batch.request_counts!.failed}`,
    );
    expect(batch.request_counts!.failed).toBeGreaterThan(0);
  });
});

describe('errors: one line on stderr, no stack trace, the documented exit code', () => {
  const noStack = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at /);

  it('usage errors in a real process (missing file, bad flag, unknown command, missing argument): exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['submit', '/nonexistent/requests.jsonl'],
        /^batchgw submit: no such file: \/nonexistent\/requests\.jsonl$/,
      ],
      [['list', '--bogus'], /^batchgw list: Unknown option '--bogus' \(see: batchgw list --help\)$/],
      [['frobnicate'], /^batchgw: unknown command 'frobnicate' \(see: batchgw --help\)$/],
      [['status'], /^batchgw status: missing BATCH_ID \(see: batchgw status --help\)$/],
      [
        ['wait', 'batch_x', '--interval', '0'],
        /^batchgw wait: --interval must be a positive number of seconds/,
      ],
    ];
    const results = await Promise.all(
      cases.map(([args]) => runCliProcess(args, { OPENAI_BASE_URL: baseUrl })),
    );
    results.forEach(({ code, stdout, stderr }, i) => {
      expect(code, cases[i][0].join(' ')).toBe(2);
      expect(stdout).toBe('');
      expect(linesOf(stderr)).toEqual([expect.stringMatching(cases[i][1])]);
      noStack(stderr);
    });
  });

  it('input errors before any upload: no url on the first line, --metadata without =', async () => {
    const noUrl = jsonlFile([{ custom_id: 'a', method: 'POST', body: { model: 'gpt-4o-mini' } }]);
    const a = await cli('submit', noUrl);
    expect(a.code).toBe(2);
    expect(a.stderr).toBe(`batchgw submit: the first line of ${noUrl} names no "url": pass --endpoint\n`);
    const b = await cli('submit', noUrl, '--endpoint', '/v1/chat/completions', '--metadata', 'novalue');
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^batchgw submit: --metadata takes key=value, not 'novalue'/);
  });

  it('a 4xx from the API (bad window; a __proto__ key, refused as prototype poisoning) is exit 2 with its message', async () => {
    const path = jsonlFile([chatLine('a', 'gpt-4o-mini', 'hi')]);
    const { code, stdout, stderr } = await cli('submit', path, '--window', '7d');
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(linesOf(stderr)).toEqual([expect.stringMatching(/^batchgw submit: 400 .*completion_window/)]);
    const proto = await cli('submit', path, '--metadata', '__proto__=x');
    expect(proto.code).toBe(2);
    expect(linesOf(proto.stderr)).toEqual([expect.stringMatching(/^batchgw submit: 400 .*'__proto__'/)]);
  });

  it('connection refused: exit 3, one line naming the base URL', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/v1`;
    const { code, stderr } = await runInProcess(['status', 'batch_x', '--base-url', url]);
    expect(code).toBe(3);
    expect(stderr).toBe(`batchgw status: cannot reach ${url}: connection refused\n`);
  });

  it('--help of every command: exit 0, usage on stdout', async () => {
    for (const name of [
      'submit',
      'wait',
      'status',
      'list',
      'cancel',
      'download',
      'results',
      'record',
      'pause',
      'resume',
      'replay',
    ]) {
      const { code, stdout } = await runInProcess([name, '--help']);
      expect(code, name).toBe(0);
      expect(stdout.startsWith(`Usage: batchgw ${name} `), name).toBe(true);
    }
    const top = await runInProcess([]);
    expect(top.code).toBe(2);
    expect(top.stderr).toMatch(/^Usage: batchgw COMMAND/);
  });
});

describe('a server without our extensions (any OpenAI-compatible Batch API)', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    // Knows batch_known and nothing else: every other route is a 404, as on another vendor's API.
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/v1/batches/batch_known') {
        res.end(JSON.stringify({ id: 'batch_known', object: 'batch', status: 'in_progress' }));
        return;
      }
      const what = req.url?.startsWith('/v1/batches/batch_known') ? 'Not found' : 'No such batch';
      res.statusCode = 404;
      res.end(
        JSON.stringify({ error: { message: what, type: 'invalid_request_error', param: null, code: null } }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('pause, resume, results, record, replay: one line saying the server lacks the route, exit 2', async () => {
    const commands: [string[], string][] = [
      [['pause', 'batch_known'], 'pause'],
      [['resume', 'batch_known'], 'resume'],
      [['results', 'batch_known'], 'results'],
      [['record', 'batch_known', 'req-1'], 'requests/{custom_id}'],
      [['replay', 'batch_known'], 'replay'],
    ];
    for (const [args, route] of commands) {
      const { code, stdout, stderr } = await runInProcess([...args, '--base-url', url]);
      expect(code, args[0]).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        `batchgw ${args[0]}: the server at ${url} does not offer ${route} (an extension of the batch gateway)\n`,
      );
    }
    // An unknown batch is still that batch's 404, not a missing extension.
    const unknown = await runInProcess(['pause', 'batch_other', '--base-url', url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('batchgw pause: 404 No such batch\n');
  });
});
