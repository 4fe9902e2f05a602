import { randomBytes } from 'node:crypto';
import OpenAI, { toFile } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileObject as FileObjectSchema } from '../src/domain/file';
import { chatLine, toJsonl, uploadJsonl } from './harness/batches';
import { expectApiError, nowS, sleep, type ErrorBody } from './harness/api-errors';
import { startStack, type Stack } from './harness/stack';

const MAX_UPLOAD = 64 * 1024;
const THIRTY_DAYS = 30 * 24 * 3600;
const FILE_KEYS = [
  'bytes',
  'created_at',
  'expires_at',
  'filename',
  'id',
  'object',
  'purpose',
  'status',
  'status_details',
];

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ MAX_UPLOAD_BYTES: String(MAX_UPLOAD) });
});
afterAll(async () => stack?.close());

/** Raw multipart upload, for requests the official client would never send. */
function postForm(
  fields: Record<string, string>,
  file?: { name: string; data: Buffer | string; field?: string },
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append(file.field ?? 'file', new Blob([file.data]), file.name);
  return fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form });
}

interface ListBody {
  object: string;
  data: { id: string; created_at: number; purpose: string }[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

async function listRaw(query: Record<string, string>): Promise<ListBody> {
  const res = await fetch(`${stack.apiUrl}/v1/files?${new URLSearchParams(query).toString()}`);
  expect(res.status).toBe(200);
  return (await res.json()) as ListBody;
}

describe('files.create and the File object', () => {
  it('a batch file: every key, exact size, 30-day expiry', async () => {
    const content = toJsonl([chatLine('a', 'gpt-4o-mini', 'héllo wörld ✓'), chatLine('b', 'gpt-4o', 'two')]);
    const before = nowS();
    const file = await uploadJsonl(stack.openai, content, 'requests.jsonl');
    const after = nowS();
    expect(Object.keys(file).sort()).toEqual(FILE_KEYS);
    FileObjectSchema.parse(file);
    expect(file.id).toMatch(/^file-[A-Za-z0-9]+$/);
    expect(file.object).toBe('file');
    expect(file.bytes).toBe(Buffer.byteLength(content));
    expect(file.bytes).toBeGreaterThan(content.length); // multi-byte characters count as bytes
    expect(Number.isInteger(file.created_at)).toBe(true);
    expect(file.created_at).toBeGreaterThanOrEqual(before);
    expect(file.created_at).toBeLessThanOrEqual(after);
    expect(file.filename).toBe('requests.jsonl');
    expect(file.purpose).toBe('batch');
    expect(['uploaded', 'processed']).toContain(file.status);
    expect(file.expires_at).toBe(file.created_at + THIRTY_DAYS);
    expect(file.status_details).toBeNull();

    expect(await stack.openai.files.retrieve(file.id)).toEqual(file);
    const res = await stack.openai.files.content(file.id);
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(content))).toBe(true);
  });

  it('a user_data .txt file keeps its exact bytes and does not expire by default', async () => {
    const data = randomBytes(5000);
    const file = await stack.openai.files.create({
      file: await toFile(data, 'notes.txt'),
      purpose: 'user_data',
    });
    expect(Object.keys(file).sort()).toEqual(FILE_KEYS);
    expect(file).toMatchObject({
      object: 'file',
      bytes: 5000,
      filename: 'notes.txt',
      purpose: 'user_data',
      expires_at: null,
    });
    expect(file.id).toMatch(/^file-/);
    expect(await stack.openai.files.retrieve(file.id)).toEqual(file);
    const res = await stack.openai.files.content(file.id);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });

  it('expires_after is honoured for batch and other files', async () => {
    const batchFile = await stack.openai.files.create({
      file: await toFile(Buffer.from(toJsonl([chatLine('a', 'm', 'x')])), 'short.jsonl'),
      purpose: 'batch',
      expires_after: { anchor: 'created_at', seconds: 7200 },
    });
    expect(batchFile.expires_at).toBe(batchFile.created_at + 7200);
    const userFile = await stack.openai.files.create({
      file: await toFile(Buffer.from('x'), 'x.txt'),
      purpose: 'user_data',
      expires_after: { anchor: 'created_at', seconds: 3600 },
    });
    expect(userFile.expires_at).toBe(userFile.created_at + 3600);
    expect((await stack.openai.files.retrieve(userFile.id)).expires_at).toBe(userFile.created_at + 3600);
    const longest = await stack.openai.files.create({
      file: await toFile(Buffer.from('y'), 'y.txt'),
      purpose: 'user_data',
      expires_after: { anchor: 'created_at', seconds: 2_592_000 },
    });
    expect(longest.expires_at).toBe(longest.created_at + 2_592_000);
  });

  it('an upload of exactly MAX_UPLOAD_BYTES is accepted', async () => {
    const data = randomBytes(MAX_UPLOAD);
    const file = await stack.openai.files.create({
      file: await toFile(data, 'max.bin'),
      purpose: 'assistants',
    });
    expect(file.bytes).toBe(MAX_UPLOAD);
    const res = await stack.openai.files.content(file.id);
    expect(Buffer.from(await res.arrayBuffer()).equals(data)).toBe(true);
  });
});

describe('files.list', () => {
  it('pages by `after` in both orders, filtered by purpose', async () => {
    // Purpose `evals` is used only here, so the listing is exactly these files. Two groups a
    // second apart make created_at (not just the id tiebreak) decide the order.
    const early: string[] = [];
    for (let i = 0; i < 3; i++) {
      early.push(
        (
          await stack.openai.files.create({
            file: await toFile(Buffer.from(`e${i}`), `e${i}.txt`),
            purpose: 'evals',
          })
        ).id,
      );
    }
    await sleep(1100);
    const late: string[] = [];
    for (let i = 0; i < 4; i++) {
      late.push(
        (
          await stack.openai.files.create({
            file: await toFile(Buffer.from(`l${i}`), `l${i}.txt`),
            purpose: 'evals',
          })
        ).id,
      );
    }

    const all = await listRaw({ purpose: 'evals' });
    expect(all.object).toBe('list');
    expect(all.has_more).toBe(false);
    expect(all.data.every((f) => f.purpose === 'evals')).toBe(true);
    const desc = all.data.map((f) => f.id);
    expect([...desc].sort()).toEqual([...early, ...late].sort());
    // Default order is desc: every late file precedes every early one, created_at never increases.
    expect(new Set(desc.slice(0, 4))).toEqual(new Set(late));
    for (let i = 1; i < all.data.length; i++)
      expect(all.data[i].created_at).toBeLessThanOrEqual(all.data[i - 1].created_at);
    expect(all.first_id).toBe(desc[0]);
    expect(all.last_id).toBe(desc[desc.length - 1]);

    const asc = await listRaw({ purpose: 'evals', order: 'asc' });
    expect(asc.data.map((f) => f.id)).toEqual([...desc].reverse());

    for (const order of ['asc', 'desc'] as const) {
      const expected = order === 'asc' ? [...desc].reverse() : desc;
      const walked: string[] = [];
      let after: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await listRaw({ purpose: 'evals', order, limit: '3', ...(after ? { after } : {}) });
        pages++;
        const ids = page.data.map((f) => f.id);
        expect(ids.length).toBe(Math.min(3, expected.length - walked.length));
        expect(page.first_id).toBe(ids[0]);
        expect(page.last_id).toBe(ids[ids.length - 1]);
        walked.push(...ids);
        expect(page.has_more).toBe(walked.length < expected.length);
        if (!page.has_more) break;
        after = page.last_id!;
      }
      expect(pages).toBe(3);
      expect(walked).toEqual(expected);
    }

    // The official client's auto-pagination follows the same cursor.
    const viaClient: string[] = [];
    for await (const f of stack.openai.files.list({ purpose: 'evals', limit: 2, order: 'asc' }))
      viaClient.push(f.id);
    expect(viaClient).toEqual([...desc].reverse());
    const firstPage = await stack.openai.files.list({ purpose: 'evals', limit: 2 });
    expect(firstPage.data.map((f) => f.id)).toEqual(desc.slice(0, 2));
    expect(firstPage.has_more).toBe(true);

    // The cursor at the last file gives an empty last page.
    const end = await listRaw({ purpose: 'evals', after: desc[desc.length - 1] });
    expect(end).toEqual({ object: 'list', data: [], first_id: null, last_id: null, has_more: false });
  });

  it('limit and order are validated', async () => {
    for (const query of ['limit=0', 'limit=10001', 'limit=abc', 'limit=2.5']) {
      const err = await expectApiError(await fetch(`${stack.apiUrl}/v1/files?${query}`), 400);
      expect(err.param).toBe('limit');
    }
    const err = await expectApiError(await fetch(`${stack.apiUrl}/v1/files?order=sideways`), 400);
    expect(err.param).toBe('order');
    expect((await fetch(`${stack.apiUrl}/v1/files?limit=10000`)).status).toBe(200);
    expect((await fetch(`${stack.apiUrl}/v1/files?limit=1`)).status).toBe(200);
  });

  it('a purpose with no files lists empty', async () => {
    expect(await listRaw({ purpose: 'fine-tune' })).toEqual({
      object: 'list',
      data: [],
      first_id: null,
      last_id: null,
      has_more: false,
    });
  });
});

describe('files.delete', () => {
  it('deletes, and the file is gone everywhere', async () => {
    const file = await uploadJsonl(
      stack.openai,
      toJsonl([chatLine('a', 'gpt-4o-mini', 'bye')]),
      'doomed.jsonl',
    );
    const deleted = await stack.openai.files.delete(file.id);
    expect(deleted).toEqual({ id: file.id, object: 'file', deleted: true });

    await expect(stack.openai.files.retrieve(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(stack.openai.files.content(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(stack.openai.files.delete(file.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expectApiError(await fetch(`${stack.apiUrl}/v1/files/${file.id}`), 404, 'not_found_error');
    await expectApiError(await fetch(`${stack.apiUrl}/v1/files/${file.id}/content`), 404, 'not_found_error');
    const listed = await listRaw({ purpose: 'batch' });
    expect(listed.data.map((f) => f.id)).not.toContain(file.id);
  });
});

describe('errors', () => {
  it('unknown ids are 404 in the OpenAI error shape', async () => {
    for (const [method, path] of [
      ['GET', '/v1/files/file-doesnotexist'],
      ['GET', '/v1/files/file-doesnotexist/content'],
      ['DELETE', '/v1/files/file-doesnotexist'],
      ['GET', '/v1/files/not-a-file-id'],
      ['GET', '/v1/files/..%2F..%2Fetc'],
    ] as const) {
      await expectApiError(await fetch(`${stack.apiUrl}${path}`, { method }), 404, 'not_found_error');
    }
    const err = await stack.openai.files.retrieve('file-doesnotexist').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).status).toBe(404);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).type).toBe('not_found_error');
  });

  it('no file field → 400 param file', async () => {
    const err = await expectApiError(await postForm({ purpose: 'batch' }), 400);
    expect(err.param).toBe('file');
  });

  it('a file under another field name → 400', async () => {
    const err = await expectApiError(
      await postForm({ purpose: 'batch' }, { name: 'a.jsonl', data: '{}\n', field: 'upload' }),
      400,
    );
    expect(err.param).toBe('upload');
  });

  it('missing or bad purpose → 400 param purpose', async () => {
    const missing = await expectApiError(await postForm({}, { name: 'a.jsonl', data: '{}\n' }), 400);
    expect(missing.param).toBe('purpose');
    expect(missing.code).toBe('missing_required_parameter');
    for (const purpose of ['batch_output', 'nonsense', '']) {
      const err = await expectApiError(await postForm({ purpose }, { name: 'a.jsonl', data: '{}\n' }), 400);
      expect(err.param).toBe('purpose');
    }
    // Field order does not matter: purpose after the file.
    const form = new FormData();
    form.append('file', new Blob(['{}\n']), 'a.jsonl');
    form.append('purpose', 'wrong');
    const err = await expectApiError(
      await fetch(`${stack.apiUrl}/v1/files`, { method: 'POST', body: form }),
      400,
    );
    expect(err.param).toBe('purpose');
  });

  it('purpose batch needs a .jsonl filename', async () => {
    for (const name of ['input.json', 'input.txt', 'jsonl']) {
      const err = await expectApiError(
        await postForm({ purpose: 'batch' }, { name, data: toJsonl([chatLine('a', 'm', 'x')]) }),
        400,
      );
      expect(err.param).toBe('file');
    }
    await expect(
      stack.openai.files.create({ file: await toFile(Buffer.from('{}\n'), 'input.csv'), purpose: 'batch' }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('expires_after out of range or with a bad anchor → 400', async () => {
    const file = { name: 'a.txt', data: 'x' };
    for (const [anchor, seconds] of [
      ['created_at', '3599'],
      ['created_at', '2592001'],
      ['created_at', '0'],
      ['created_at', '-5'],
      ['created_at', 'soon'],
      ['last_active_at', '3600'],
    ]) {
      const err = await expectApiError(
        await postForm(
          { purpose: 'user_data', 'expires_after[anchor]': anchor, 'expires_after[seconds]': seconds },
          file,
        ),
        400,
      );
      expect(err.param ?? '').toMatch(/^expires_after/);
    }
    await expect(
      stack.openai.files.create({
        file: await toFile(Buffer.from('x'), 'x.txt'),
        purpose: 'user_data',
        expires_after: { anchor: 'created_at', seconds: 60 },
      }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('an upload over MAX_UPLOAD_BYTES → 413, nothing stored', async () => {
    const before = (await listRaw({ purpose: 'vision' })).data.length;
    const err = await expectApiError(
      await postForm({ purpose: 'vision' }, { name: 'big.bin', data: randomBytes(MAX_UPLOAD + 1) }),
      413,
    );
    expect(err.param).toBe('file');
    const bigger = await expectApiError(
      await postForm({ purpose: 'vision' }, { name: 'big.bin', data: randomBytes(MAX_UPLOAD * 4) }),
      413,
    );
    expect(bigger.type).toBe('invalid_request_error');
    const viaClient = await stack.openai.files
      .create({ file: await toFile(randomBytes(MAX_UPLOAD + 10), 'big.bin'), purpose: 'vision' })
      .catch((e: unknown) => e);
    expect(viaClient).toBeInstanceOf(OpenAI.APIError);
    expect((viaClient as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((await listRaw({ purpose: 'vision' })).data.length).toBe(before);
  });

  it('non-multipart or malformed POST /v1/files → 4xx, never 500', async () => {
    const url = `${stack.apiUrl}/v1/files`;
    const before = (await listRaw({})).data.length;
    const attempts: RequestInit[] = [
      { method: 'POST' },
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ purpose: 'batch', file: 'abc' }),
      },
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' },
      { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' },
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'purpose=batch&file=x',
      },
      { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(100) },
      { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'no boundary here' },
      {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=' },
        body: 'empty boundary',
      },
      {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${'b'.repeat(300)}` },
        body: 'huge boundary',
      },
      {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
        body: 'garbage without parts',
      },
      {
        method: 'POST',
        headers: { 'content-type': 'multipart/form-data; boundary=XYZ' },
        body: '--XYZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n\r\n{}\n',
      },
    ];
    for (const init of attempts) {
      const res = await fetch(url, init);
      const text = await res.text();
      expect(res.status, `${JSON.stringify(init.headers)} → ${text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, text).toBeLessThan(500);
      const body = JSON.parse(text) as ErrorBody;
      expect(typeof body.error.message).toBe('string');
      expect(typeof body.error.type).toBe('string');
    }
    // None of these left a file behind.
    expect((await listRaw({})).data.length).toBe(before);
  });
});
