// Raw HTTP for requests no client would send: the path goes out byte for byte (no URL
// normalisation of `..` or `%` escapes), any method may carry a body, any content type.
import { request } from 'node:http';
import { expect } from 'vitest';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function rawRequest(
  baseUrl: string,
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<RawAnswer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          ...(opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer (413, 400) and close before it has read a large body: give its
    // answer a moment to arrive before calling the write error the outcome.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') setTimeout(() => reject(err), 2000);
      else reject(err);
    });
    req.setTimeout(30_000, () =>
      req.destroy(new Error(`no answer to ${method} ${path.slice(0, 80)} within 30 s`)),
    );
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export interface ApiErrorJson {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

/** Longest error message we accept: user strings are quoted clipped, never whole. */
export const MAX_ERROR_MESSAGE = 600;

/** A 4xx in OpenAI's error shape: JSON `{error:{message,type,param,code}}` and nothing else. */
export function expectOpenAiError(res: RawAnswer, what: string): ApiErrorJson {
  const ctx = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, ctx).toBeGreaterThanOrEqual(400);
  expect(res.status, ctx).toBeLessThan(500);
  expect(String(res.headers['content-type']), ctx).toContain('application/json');
  const body = JSON.parse(res.text) as { error: ApiErrorJson };
  expect(Object.keys(body), ctx).toEqual(['error']);
  expect(Object.keys(body.error).sort(), ctx).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message, ctx).toBe('string');
  expect(body.error.message.length, ctx).toBeGreaterThan(0);
  expect(body.error.message.length, ctx).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
  expect(typeof body.error.type, ctx).toBe('string');
  expect(body.error.param === null || typeof body.error.param === 'string', ctx).toBe(true);
  expect(body.error.code === null || typeof body.error.code === 'string', ctx).toBe(true);
  return body.error;
}
