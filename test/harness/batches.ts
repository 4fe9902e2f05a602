import { toFile } from 'openai';
import type OpenAI from 'openai';
import type { Batch } from '../../src/domain/batch';

export interface RequestLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown>;
}

/** A chat request line; `text` lands in the simulator's echo and may carry `#sim:` markers. */
export function chatLine(customId: string, model: string, text: string): RequestLine {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model, messages: [{ role: 'user', content: text }] },
  };
}

export const toJsonl = (lines: unknown[]): string => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

export async function uploadJsonl(openai: OpenAI, content: string, filename = 'input.jsonl') {
  return openai.files.create({ file: await toFile(Buffer.from(content), filename), purpose: 'batch' });
}

/** Uploads the lines and creates a batch through the official client. */
export async function createBatch(
  openai: OpenAI,
  lines: unknown[],
  opts: { endpoint?: string; completion_window?: string; metadata?: Record<string, string> } = {},
): Promise<Batch> {
  const file = await uploadJsonl(openai, toJsonl(lines));
  const batch = await openai.batches.create({
    input_file_id: file.id,
    endpoint: (opts.endpoint ?? '/v1/chat/completions') as '/v1/chat/completions',
    completion_window: (opts.completion_window ?? '24h') as '24h',
    metadata: opts.metadata,
  });
  return batch as unknown as Batch;
}

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);

/** Polls batches.retrieve until the batch is terminal (or `until` holds). */
export async function waitForBatch(
  openai: OpenAI,
  id: string,
  until: (b: Batch) => boolean = (b) => TERMINAL.has(b.status),
  timeoutMs = 90_000,
): Promise<Batch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const b = (await openai.batches.retrieve(id)) as unknown as Batch;
    if (until(b)) return b;
    if (Date.now() > deadline)
      throw new Error(
        `batch ${id} still ${b.status} after ${timeoutMs} ms: ${JSON.stringify(b.request_counts)}`,
      );
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ResultLineJson {
  id: string;
  custom_id: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- upstream bodies are free-form JSON
  response: { status_code: number; request_id: string; body: any } | null;
  error: { code: string; message: string } | null;
}

/** Downloads a file through files.content and parses its JSONL lines. */
export async function readResultFile(openai: OpenAI, fileId: string | null): Promise<ResultLineJson[]> {
  if (!fileId) return [];
  const res = await openai.files.content(fileId);
  const text = await res.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLineJson);
}

/**
 * Uploads the lines and creates a batch with body fields the openai clients have no parameter for
 * (our `x_` extensions, or a completion window only our config allows), as a raw POST.
 */
export async function createBatchWith(
  target: { openai: OpenAI; apiUrl: string },
  lines: unknown[] | string,
  extra: Record<string, unknown>,
): Promise<Batch> {
  // A string is the file's text as is (it may hold lines that are not JSON).
  const file = await uploadJsonl(target.openai, typeof lines === 'string' ? lines : toJsonl(lines));
  const res = await fetch(`${target.apiUrl}/v1/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      ...extra,
    }),
  });
  if (res.status !== 200) throw new Error(`create answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Batch;
}
