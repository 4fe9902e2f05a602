// Every hostile input we could think of, fired at every route of the API over real HTTP: never a
// 5xx, never a hang, always OpenAI's error shape with a bounded message (issue 7, item 9).
import { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, createBatch, readResultFile, toJsonl, uploadJsonl, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';
import { expectOpenAiError, rawRequest, type RawAnswer } from './clients/raw-http';

let stack: Stack;
let fileId: string; // a live batch input file
let userFileId: string; // a live file of another purpose
let batchId: string; // a completed batch

beforeAll(async () => {
  stack = await startStack({ MAX_UPLOAD_BYTES: String(1024 * 1024) });
  fileId = (await uploadJsonl(stack.openai, toJsonl([chatLine('a', 'gpt-4o-mini', 'hi')]))).id;
  userFileId = (
    await stack.openai.files.create({
      file: await toFile(Buffer.from('notes'), 'notes.txt'),
      purpose: 'user_data',
    })
  ).id;
  const batch = await createBatch(stack.openai, [chatLine('a', 'gpt-4o-mini', 'hi')]);
  batchId = (await waitForBatch(stack.openai, batch.id)).id;
});
afterAll(async () => stack?.close());

const send = (method: string, path: string, opts?: Parameters<typeof rawRequest>[3]) =>
  rawRequest(stack.apiUrl, method, path, opts);
const json = (body: string) => ({ headers: { 'content-type': 'application/json' }, body });
const nest = (depth: number, open: string, leaf: string, close: string) =>
  open.repeat(depth) + leaf + close.repeat(depth);

type Kind = 'file' | 'batch';
interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  /** The kind of id the route's `:id` (or, for a list, its `after`) names. */
  kind: Kind;
  /** The route reads a request body. */
  body?: boolean;
}

const ROUTES: Route[] = [
  { method: 'POST', path: '/v1/files', kind: 'file', body: true },
  { method: 'GET', path: '/v1/files', kind: 'file' },
  { method: 'GET', path: '/v1/files/:id', kind: 'file' },
  { method: 'DELETE', path: '/v1/files/:id', kind: 'file', body: true },
  { method: 'GET', path: '/v1/files/:id/content', kind: 'file' },
  { method: 'POST', path: '/v1/batches', kind: 'batch', body: true },
  { method: 'GET', path: '/v1/batches', kind: 'batch' },
  { method: 'GET', path: '/v1/batches/:id', kind: 'batch' },
  { method: 'POST', path: '/v1/batches/:id/cancel', kind: 'batch', body: true },
  { method: 'POST', path: '/v1/batches/:id/replay', kind: 'batch', body: true },
];
const ID_ROUTES = ROUTES.filter((r) => r.path.includes(':id'));
const LIST_ROUTES = ROUTES.filter((r) => r.method === 'GET' && !r.path.includes(':id'));
const BODY_ROUTES = ROUTES.filter((r) => r.body);

/** Ids as they go on the wire (already %-encoded where needed), and the status they must get. */
const HOSTILE_IDS: { name: string; wire: (kind: Kind) => string; status: 400 | 404 }[] = [
  { name: 'our prefix + 400 characters', wire: (k) => prefix(k) + 'a'.repeat(400), status: 404 },
  { name: 'our prefix + 90 characters', wire: (k) => prefix(k) + 'a'.repeat(90), status: 404 },
  { name: 'our prefix + 65 characters', wire: (k) => prefix(k) + 'a'.repeat(65), status: 404 },
  { name: '5,000 characters', wire: () => 'x'.repeat(5000), status: 404 },
  {
    name: 'the other resource’s prefix',
    wire: (k) => (k === 'file' ? 'batch_' : 'file-') + 'a'.repeat(24),
    status: 404,
  },
  { name: 'no prefix', wire: () => 'abc', status: 404 },
  { name: 'prefix only', wire: (k) => prefix(k), status: 404 },
  { name: 'traversal ../../etc/passwd (encoded)', wire: () => '..%2F..%2Fetc%2Fpasswd', status: 404 },
  { name: 'dot-dot', wire: () => '..', status: 404 },
  { name: 'a storage suffix (.json)', wire: (k) => prefix(k) + 'abc.json', status: 404 },
  { name: 'a NUL byte', wire: (k) => prefix(k) + 'abc%00def', status: 404 },
  { name: 'spaces and quotes', wire: (k) => prefix(k) + 'a%20b%22c%27', status: 404 },
  { name: 'emoji', wire: (k) => prefix(k) + '%F0%9F%92%A9', status: 404 },
  { name: 'right-to-left override', wire: (k) => prefix(k) + '%E2%80%AEabc', status: 404 },
  { name: '__proto__', wire: () => '__proto__', status: 404 },
  { name: 'constructor', wire: () => 'constructor', status: 404 },
  { name: 'a broken %-escape', wire: (k) => prefix(k) + '%E0%A4%A', status: 400 },
  { name: 'a lone %', wire: (k) => prefix(k) + '%', status: 400 },
];
const prefix = (k: Kind) => (k === 'file' ? 'file-' : 'batch_');

describe('hostile ids in the path → 404 (or 400 for a broken URL), never a 5xx', () => {
  for (const route of ID_ROUTES) {
    it.each(HOSTILE_IDS)(`${route.method} ${route.path}: $name`, async ({ wire, status, name }) => {
      const path = route.path.replace(':id', wire(route.kind));
      const res = await send(route.method, path);
      const err = expectOpenAiError(res, `${route.method} ${path.slice(0, 80)} (${name})`);
      expect(res.status).toBe(status);
      expect(err.type).toBe(status === 404 ? 'not_found_error' : 'invalid_request_error');
    });
  }
});

describe('hostile `after` cursors on list routes → 400 naming `after`', () => {
  for (const route of LIST_ROUTES) {
    it.each(HOSTILE_IDS.filter((h) => h.status === 404))(
      `${route.method} ${route.path}?after=<$name>`,
      async ({ wire }) => {
        const res = await send(route.method, `${route.path}?after=${wire(route.kind)}`);
        const err = expectOpenAiError(res, `after=${wire(route.kind).slice(0, 40)}`);
        expect(res.status).toBe(400);
        expect(err.param).toBe('after');
      },
    );
  }
});

const HOSTILE_QUERIES: { route: string; query: string; param: string }[] = [
  ...['/v1/files', '/v1/batches'].flatMap((route) =>
    [
      'limit=abc',
      'limit=0',
      'limit=-1',
      'limit=1.5',
      'limit=1e309',
      'limit=99999999999999999999999',
      `limit=${'9'.repeat(5000)}`,
      'limit=1&limit=2',
      'limit=',
      'after=',
      'after=a&after=b',
    ].map((query) => ({ route, query, param: query.split('=')[0] })),
  ),
  { route: '/v1/files', query: 'order=sideways', param: 'order' },
  { route: '/v1/files', query: 'order=asc&order=desc', param: 'order' },
  { route: '/v1/files', query: 'limit=10001', param: 'limit' },
  { route: '/v1/batches', query: 'limit=101', param: 'limit' },
];

describe('hostile list parameters → 400 naming the parameter', () => {
  it.each(HOSTILE_QUERIES)('GET $route?$query', async ({ route, query, param }) => {
    const res = await send('GET', `${route}?${query}`);
    const err = expectOpenAiError(res, `${route}?${query.slice(0, 60)}`);
    expect(res.status).toBe(400);
    expect(err.param).toBe(param);
  });
});

/** Bodies no route can accept: each must be refused before any handler acts on it. */
const HOSTILE_BODIES: { name: string; opts: () => Parameters<typeof rawRequest>[3]; status?: number }[] = [
  { name: 'arrays nested 100,000 deep', opts: () => json(nest(100_000, '[', '', ']')), status: 400 },
  { name: 'objects nested 100,000 deep', opts: () => json(nest(100_000, '{"a":', '1', '}')), status: 400 },
  {
    name: 'x_ option nested 10,000 deep',
    opts: () => json(`{"input_file_id":"${fileId}","x_foo":${nest(10_000, '{"a":', '1', '}')}}`),
    status: 400,
  },
  {
    name: 'metadata nested 10,000 deep',
    opts: () => json(`{"metadata":${nest(10_000, '[', '', ']')}}`),
    status: 400,
  },
  { name: 'invalid JSON', opts: () => json('{"input_file_id": '), status: 400 },
  { name: 'JSON with trailing garbage', opts: () => json('{}}'), status: 400 },
  { name: '__proto__ poisoning', opts: () => json('{"__proto__":{"polluted":true}}'), status: 400 },
  {
    name: 'constructor.prototype poisoning',
    opts: () => json('{"constructor":{"prototype":{"polluted":true}}}'),
    status: 400,
  },
  { name: 'an 11 MB body', opts: () => json(`{"x":"${'a'.repeat(11 * 1024 * 1024)}"}`), status: 413 },
  { name: 'a JSON array', opts: () => json('[{"input_file_id":"file-abc"}]') },
  { name: 'a JSON string', opts: () => json('"hello"') },
  { name: 'a JSON number', opts: () => json('42') },
  { name: 'JSON true', opts: () => json('true') },
  { name: 'text/xml', opts: () => ({ headers: { 'content-type': 'text/xml' }, body: '<a/>' }) },
  {
    name: 'form-urlencoded',
    opts: () => ({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' }),
  },
  {
    name: 'octet-stream',
    opts: () => ({ headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([0, 1, 2]) }),
  },
  {
    name: 'a malformed content type',
    opts: () => ({ headers: { 'content-type': 'application/' }, body: '{}' }),
  },
  { name: 'a body without a content type', opts: () => ({ body: '{"a":1}' }) },
  {
    name: 'JSON in UTF-16 with a BOM',
    opts: () => ({
      headers: { 'content-type': 'application/json; charset=utf-16' },
      body: Buffer.from('\ufeff{"a":1}', 'utf16le'),
    }),
  },
  {
    name: 'a 10 KB content type',
    opts: () => ({ headers: { 'content-type': `application/json; x=${'y'.repeat(10_000)}` }, body: '[1]' }),
  },
  {
    name: 'multipart without a boundary',
    opts: () => ({ headers: { 'content-type': 'multipart/form-data' }, body: 'x' }),
  },
  {
    name: 'truncated multipart',
    opts: () => ({
      headers: { 'content-type': 'multipart/form-data; boundary=zz' },
      body: '--zz\r\nContent-Dis',
    }),
  },
];

describe('hostile bodies on every route that reads one → 4xx, never a 5xx', () => {
  for (const route of BODY_ROUTES) {
    it.each(HOSTILE_BODIES)(`${route.method} ${route.path}: $name`, async ({ name, opts, status }) => {
      // A completed batch for cancel (409) and replay, a well-formed but unknown file for delete:
      // a body a route ignores still gets an error answer, and nothing is deleted.
      const id = route.kind === 'batch' ? batchId : 'file-doesnotexist0000000000';
      const path = route.path.replace(':id', id);
      const res = await send(route.method, path, opts());
      expectOpenAiError(res, `${route.method} ${path} (${name})`);
      if (status) expect(res.status).toBe(status);
    });
  }
});

/** A multipart body, built by hand so it can be wrong in every way. */
function multipart(parts: { name: string; value: string; filename?: string }[], boundary = 'BOUNDARY') {
  const body =
    parts
      .map(
        (p) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"` +
          (p.filename !== undefined ? `; filename="${p.filename}"` : '') +
          `\r\n\r\n${p.value}\r\n`,
      )
      .join('') + `--${boundary}--\r\n`;
  return { headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }, body };
}
const LINE = JSON.stringify(chatLine('a', 'm', 'x'));

const HOSTILE_UPLOADS: {
  name: string;
  opts: () => Parameters<typeof rawRequest>[3];
  status: number;
  param: string | null;
}[] = [
  {
    name: 'an unknown purpose',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'evil' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'purpose',
  },
  {
    name: 'a 60 KB purpose',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'p'.repeat(60_000) },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'purpose',
  },
  {
    name: 'the output purpose (ours to give)',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch_output' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'purpose',
  },
  {
    name: 'an empty purpose',
    opts: () =>
      multipart([
        { name: 'purpose', value: '' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'purpose',
  },
  {
    name: 'no purpose',
    opts: () => multipart([{ name: 'file', value: LINE, filename: 'a.jsonl' }]),
    status: 400,
    param: 'purpose',
  },
  {
    name: 'no file',
    opts: () => multipart([{ name: 'purpose', value: 'batch' }]),
    status: 400,
    param: 'file',
  },
  { name: 'no parts at all', opts: () => multipart([]), status: 400, param: 'file' },
  {
    name: 'the file as a plain field',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'file', value: LINE },
      ]),
    status: 400,
    param: 'file',
  },
  {
    name: 'the file under another name',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'upload', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'upload',
  },
  {
    name: 'two files',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
        { name: 'file', value: LINE, filename: 'b.jsonl' },
      ]),
    status: 400,
    param: 'file',
  },
  {
    name: 'a batch file that is not .jsonl',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'file', value: LINE, filename: 'a.exe' },
      ]),
    status: 400,
    param: 'file',
  },
  {
    name: 'expires_after with a bad anchor',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'expires_after[anchor]', value: 'now' },
        { name: 'expires_after[seconds]', value: '3600' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'expires_after.anchor',
  },
  {
    name: 'expires_after seconds not a number',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'expires_after[anchor]', value: 'created_at' },
        { name: 'expires_after[seconds]', value: '1e999' },
        { name: 'file', value: LINE, filename: 'a.jsonl' },
      ]),
    status: 400,
    param: 'expires_after.seconds',
  },
  {
    name: 'a file over the upload limit',
    opts: () =>
      multipart([
        { name: 'purpose', value: 'batch' },
        { name: 'file', value: 'x'.repeat(1024 * 1024 + 10), filename: 'a.jsonl' },
      ]),
    status: 413,
    param: 'file',
  },
  {
    name: 'more than 20 fields',
    opts: () => multipart(Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, value: 'v' }))),
    status: 413,
    param: null,
  },
];

describe('hostile uploads to POST /v1/files → 4xx naming the part', () => {
  it.each(HOSTILE_UPLOADS)('$name', async ({ name, opts, status, param }) => {
    const res = await send('POST', '/v1/files', opts());
    const err = expectOpenAiError(res, `upload (${name})`);
    expect(res.status).toBe(status);
    expect(err.param).toBe(param);
  });

  it('a refused upload leaves no file behind', async () => {
    const before = (await stack.openai.files.list()).data.length;
    for (const { opts } of HOSTILE_UPLOADS) await send('POST', '/v1/files', opts());
    expect((await stack.openai.files.list()).data.length).toBe(before);
  });
});

/** Create bodies wrong in one option each (with a real input file): 400 naming that option. */
const base = () => ({ input_file_id: fileId, endpoint: '/v1/chat/completions', completion_window: '24h' });
const HOSTILE_CREATES: { name: string; body: () => unknown; status: number; param: string | null }[] = [
  {
    name: 'input_file_id of 400 characters (the reported 500)',
    body: () => ({ ...base(), input_file_id: 'file-' + 'a'.repeat(400) }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id of 100,000 characters',
    body: () => ({ ...base(), input_file_id: 'file-' + 'a'.repeat(100_000) }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id with a traversal',
    body: () => ({ ...base(), input_file_id: '../../../etc/passwd' }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id with a storage suffix',
    body: () => ({ ...base(), input_file_id: `${fileId}.json` }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id with unicode',
    body: () => ({ ...base(), input_file_id: 'file-ünïcödé' }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id naming a batch',
    body: () => ({ ...base(), input_file_id: batchId }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id well-formed but unknown',
    body: () => ({ ...base(), input_file_id: 'file-doesnotexist0000000000' }),
    status: 404,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id of a non-batch file',
    body: () => ({ ...base(), input_file_id: userFileId }),
    status: 400,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id empty',
    body: () => ({ ...base(), input_file_id: '' }),
    status: 400,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id a number',
    body: () => ({ ...base(), input_file_id: 42 }),
    status: 400,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id an object',
    body: () => ({ ...base(), input_file_id: { id: fileId } }),
    status: 400,
    param: 'input_file_id',
  },
  {
    name: 'input_file_id missing',
    body: () => ({ endpoint: '/v1/chat/completions', completion_window: '24h' }),
    status: 400,
    param: 'input_file_id',
  },
  {
    name: 'endpoint of 10,000 characters',
    body: () => ({ ...base(), endpoint: '/v1/' + 'x'.repeat(10_000) }),
    status: 400,
    param: 'endpoint',
  },
  {
    name: 'endpoint an array',
    body: () => ({ ...base(), endpoint: ['/v1/chat/completions'] }),
    status: 400,
    param: 'endpoint',
  },
  {
    name: 'completion_window of 10,000 characters',
    body: () => ({ ...base(), completion_window: '9'.repeat(10_000) + 'h' }),
    status: 400,
    param: 'completion_window',
  },
  {
    name: 'completion_window a number',
    body: () => ({ ...base(), completion_window: 24 }),
    status: 400,
    param: 'completion_window',
  },
  {
    name: 'metadata with a number value',
    body: () => ({ ...base(), metadata: { a: 1 } }),
    status: 400,
    param: 'metadata.a',
  },
  {
    name: 'metadata with an object value',
    body: () => ({ ...base(), metadata: { a: { b: 'c' } } }),
    status: 400,
    param: 'metadata.a',
  },
  {
    name: 'metadata with a null value',
    body: () => ({ ...base(), metadata: { a: null } }),
    status: 400,
    param: 'metadata.a',
  },
  {
    name: 'metadata with 17 keys',
    body: () => ({
      ...base(),
      metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])),
    }),
    status: 400,
    param: 'metadata',
  },
  {
    name: 'metadata with 10,000 keys',
    body: () => ({
      ...base(),
      metadata: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 'v'])),
    }),
    status: 400,
    param: 'metadata',
  },
  {
    name: 'metadata with a 65-character key',
    body: () => ({ ...base(), metadata: { ['k'.repeat(65)]: 'v' } }),
    status: 400,
    // User keys are quoted clipped to 64 characters.
    param: `metadata.${'k'.repeat(64)}…`,
  },
  {
    name: 'metadata with a 5,000-character key',
    body: () => ({ ...base(), metadata: { ['k'.repeat(5000)]: 'v' } }),
    status: 400,
    param: `metadata.${'k'.repeat(64)}…`,
  },
  {
    name: 'metadata with a 513-character value',
    body: () => ({ ...base(), metadata: { k: 'v'.repeat(513) } }),
    status: 400,
    param: 'metadata.k',
  },
  {
    name: 'metadata with a 1 MB value',
    body: () => ({ ...base(), metadata: { k: 'v'.repeat(1024 * 1024) } }),
    status: 400,
    param: 'metadata.k',
  },
  {
    name: 'metadata an array',
    body: () => ({ ...base(), metadata: ['a', 'b'] }),
    status: 400,
    param: 'metadata',
  },
  { name: 'metadata a string', body: () => ({ ...base(), metadata: 'a=b' }), status: 400, param: 'metadata' },
  {
    name: 'output_expires_after with a bad anchor',
    body: () => ({ ...base(), output_expires_after: { anchor: 'now', seconds: 3600 } }),
    status: 400,
    param: 'output_expires_after.anchor',
  },
  {
    name: 'output_expires_after too short',
    body: () => ({ ...base(), output_expires_after: { anchor: 'created_at', seconds: 1 } }),
    status: 400,
    param: 'output_expires_after.seconds',
  },
  {
    name: 'output_expires_after a string',
    body: () => ({ ...base(), output_expires_after: '1h' }),
    status: 400,
    param: 'output_expires_after',
  },
  {
    name: 'x_max_tokens negative',
    body: () => ({ ...base(), x_max_tokens: -1 }),
    status: 400,
    param: 'x_max_tokens',
  },
  {
    name: 'x_max_tokens a string',
    body: () => ({ ...base(), x_max_tokens: '1000' }),
    status: 400,
    param: 'x_max_tokens',
  },
  {
    name: 'x_max_tokens fractional',
    body: () => ({ ...base(), x_max_tokens: 1.5 }),
    status: 400,
    param: 'x_max_tokens',
  },
  {
    name: 'x_quality_thresholds out of range',
    body: () => ({ ...base(), x_quality_thresholds: { min_completeness: 2, min_consistency: 0 } }),
    status: 400,
    param: 'x_quality_thresholds.min_completeness',
  },
  {
    name: 'x_quality_thresholds an array',
    body: () => ({ ...base(), x_quality_thresholds: [0.5, 0.5] }),
    status: 400,
    param: 'x_quality_thresholds',
  },
  {
    name: 'x_output_schema not a schema',
    body: () => ({ ...base(), x_output_schema: { type: 'no-such-type' } }),
    status: 400,
    param: 'x_output_schema',
  },
  {
    name: 'x_output_schema an array',
    body: () => ({ ...base(), x_output_schema: [] }),
    status: 400,
    param: 'x_output_schema',
  },
  {
    name: 'x_output_schema nested 60 deep (under the body limit)',
    body: () => ({ ...base(), x_output_schema: deepSchema(30) }),
    status: 200,
    param: null,
  },
];

/** A valid JSON schema whose `properties` nest `levels` deep (two JSON levels per schema level). */
function deepSchema(levels: number): Record<string, unknown> {
  let schema: Record<string, unknown> = { type: 'string' };
  for (let i = 0; i < levels; i++) schema = { type: 'object', properties: { a: schema } };
  return schema;
}

describe('hostile create options → 400 naming the option (404 for an input file id that names no file)', () => {
  it.each(HOSTILE_CREATES)('POST /v1/batches: $name', async ({ name, body, status, param }) => {
    const res = await send('POST', '/v1/batches', json(JSON.stringify(body())));
    if (status === 200) {
      expect(res.status, res.text.slice(0, 300)).toBe(200);
      const created = JSON.parse(res.text) as { id: string };
      await waitForBatch(stack.openai, created.id);
      return;
    }
    const err = expectOpenAiError(res, `create (${name})`);
    expect(res.status).toBe(status);
    expect(err.param).toBe(param);
  });
});

/** Mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random JSON value of at most `budget.nodes` nodes (so the tree cannot explode), now and then
 * a chain nested up to 80 deep, strings up to 2,000 characters of awkward alphabets.
 */
function randomJson(rand: () => number, budget: { nodes: number }, depth = 0): unknown {
  budget.nodes--;
  const leafOnly = budget.nodes <= 0 || depth > 80;
  const pick = Math.floor(rand() * (leafOnly ? 6 : 9));
  const str = () => {
    const alphabets = ['abc', 'file-batch_', '\u0000\u202e"\\/%', '😀é中', '.'];
    const chars = alphabets[Math.floor(rand() * alphabets.length)];
    const len = Math.floor(rand() ** 3 * 2000);
    let s = '';
    for (let i = 0; i < len; i++) s += chars[Math.floor(rand() * chars.length)] ?? 'x';
    return s;
  };
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return [0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 24][Math.floor(rand() * 7)];
    case 3:
    case 4:
      return str();
    case 5:
      return ['24h', '/v1/chat/completions', fileId, batchId, 'created_at'][Math.floor(rand() * 5)];
    case 6:
      // A deep chain: one child per level.
      return rand() < 0.5
        ? [randomJson(rand, budget, depth + 1)]
        : { a: randomJson(rand, budget, depth + 1) };
    case 7:
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 20) }, () => [
          str().slice(0, 80),
          randomJson(rand, budget, depth + 1),
        ]),
      );
    default:
      return Array.from({ length: Math.floor(rand() * 5) }, () => randomJson(rand, budget, depth + 1));
  }
}

const FIELDS = [
  'input_file_id',
  'endpoint',
  'completion_window',
  'metadata',
  'output_expires_after',
  'x_output_schema',
  'x_quality_thresholds',
  'x_max_tokens',
  'x_unknown',
];

describe('fuzzing POST /v1/batches (seeded)', () => {
  it('200 random mutations of a valid body: every answer is a 2xx or a 4xx in OpenAI’s shape', async () => {
    const rand = prng(7);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 200; i++) {
      const body: Record<string, unknown> = base();
      const mutations = 1 + Math.floor(rand() * 3);
      for (let m = 0; m < mutations; m++) {
        const field = FIELDS[Math.floor(rand() * FIELDS.length)];
        if (rand() < 0.15) delete body[field];
        else body[field] = randomJson(rand, { nodes: 200 });
      }
      const res: RawAnswer = await send('POST', '/v1/batches', json(JSON.stringify(body)));
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status !== 200) expectOpenAiError(res, `fuzz case ${i}: ${JSON.stringify(body).slice(0, 300)}`);
    }
    expect([...statuses.keys()].every((s) => s === 200 || (s >= 400 && s < 500))).toBe(true);
  });
});

describe('unknown routes and methods → 404 in the error shape, the path quoted clipped', () => {
  it.each([
    ['GET', `/v1/${'x'.repeat(5000)}`],
    ['GET', '/v1/files/file-abc/nothing'],
    ['PUT', '/v1/files'],
    ['PATCH', '/v1/batches/batch_abc'],
    ['DELETE', '/v1/batches/batch_abc'],
    ['OPTIONS', '/v1/batches'],
    ['GET', '/v2/batches'],
  ])('%s %s', async (method, path) => {
    const res = await send(method, path);
    const err = expectOpenAiError(res, `${method} ${path.slice(0, 60)}`);
    expect(res.status).toBe(404);
    expect(err.type).toBe('not_found_error');
  });
});

describe('after the barrage', () => {
  it('the API is healthy and a new batch completes with 2xx lines', async () => {
    expect((await send('GET', '/health')).status).toBe(200);
    const batch = await createBatch(stack.openai, [chatLine('x', 'gpt-4o-mini', 'still fine')]);
    const done = await waitForBatch(stack.openai, batch.id);
    expect(done.status).toBe('completed');
    const out = await readResultFile(stack.openai, done.output_file_id);
    expect(out.map((l) => l.response?.status_code)).toEqual([200]);
  });
});
