import { expect } from 'vitest';

export const nowS = (): number => Math.floor(Date.now() / 1000);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** The answer is an OpenAI-shaped error with this status and type; returns its `error` for further checks. */
export async function expectApiError(
  res: Response,
  status: number,
  type = 'invalid_request_error',
): Promise<ErrorBody['error']> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type') ?? '').toContain('application/json');
  const body = JSON.parse(text) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.type).toBe(type);
  return body.error;
}
