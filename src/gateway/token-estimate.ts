/**
 * Tokens a request will consume, counted before it is sent so tokens-per-minute limits hold:
 * the text of `messages[].content`, `input`, `prompt` and `instructions` by a real tokenizer
 * (o200k_base, the encoding of the gpt-4o and later families), plus the output cap
 * (`max_completion_tokens`, `max_tokens` or `max_output_tokens`, times `n`) when one is given.
 * The estimate is reconciled with the response's `usage` afterwards (see rate-limit.ts).
 */
import type { Tiktoken } from 'js-tiktoken/lite';

/** OpenAI's accounting for chat: a few tokens of framing per message, and three to prime the reply. */
const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;

type Json = Record<string, unknown>;

let tokenizer: Promise<Tiktoken> | undefined;

/**
 * The tokenizer, loaded on first use only: it costs about a second of CPU and ~90 MB of heap, which
 * a worker without a tokens-per-minute limit never pays.
 */
export function loadTokenizer(): Promise<Tiktoken> {
  tokenizer ??= (async () => {
    const [{ Tiktoken }, ranks] = await Promise.all([
      import('js-tiktoken/lite'),
      import('js-tiktoken/ranks/o200k_base'),
    ]);
    return new Tiktoken(ranks.default);
  })();
  // A failed load is not remembered: the next request tries again.
  tokenizer.catch(() => {
    tokenizer = undefined;
  });
  return tokenizer;
}

/** Estimated tokens (input plus expected output) of a JSON request body; 0 for a body that is not JSON. */
export async function estimateRequestTokens(body: string): Promise<number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return 0;
  }
  const enc = await loadTokenizer();
  // No special-token checks: user text that happens to spell `<|endoftext|>` is counted as text.
  return countRequestTokens(parsed, (text) => enc.encode(text, [], []).length);
}

/** The walk over a parsed body, with the text counter passed in (so it is testable without the tokenizer). */
export function countRequestTokens(body: unknown, count: (text: string) => number): number {
  if (!body || typeof body !== 'object') return 0;
  const b = body as Json;
  let tokens = 0;
  if (Array.isArray(b.messages)) {
    tokens += REPLY_PRIMING;
    for (const m of b.messages) tokens += messageTokens(m, count);
  }
  tokens += inputTokens(b.input, count) + inputTokens(b.prompt, count);
  if (typeof b.instructions === 'string') tokens += count(b.instructions);
  return tokens + expectedOutput(b);
}

function messageTokens(m: unknown, count: (text: string) => number): number {
  if (!m || typeof m !== 'object') return 0;
  const msg = m as Json;
  let tokens = PER_MESSAGE + contentTokens(msg.content, count);
  if (typeof msg.name === 'string') tokens += count(msg.name);
  return tokens;
}

/** A message `content`: a string, or parts of which the text ones count ({type: 'text' | 'input_text', text}). */
function contentTokens(content: unknown, count: (text: string) => number): number {
  if (typeof content === 'string') return count(content);
  if (!Array.isArray(content)) return 0;
  let tokens = 0;
  for (const part of content) {
    if (typeof part === 'string') tokens += count(part);
    else if (part && typeof part === 'object' && typeof (part as Json).text === 'string') {
      tokens += count((part as Json).text as string);
    }
  }
  return tokens;
}

/**
 * `input` / `prompt`: a string, a token array, or a list of strings, token arrays or (Responses API)
 * message items.
 */
function inputTokens(input: unknown, count: (text: string) => number): number {
  if (typeof input === 'string') return count(input);
  if (!Array.isArray(input)) return 0;
  let tokens = 0;
  for (const item of input) {
    if (typeof item === 'string') tokens += count(item);
    else if (typeof item === 'number') tokens += 1;
    else if (Array.isArray(item)) tokens += item.length;
    else if (item && typeof item === 'object') tokens += messageTokens(item, count);
  }
  return tokens;
}

function expectedOutput(b: Json): number {
  const cap = [b.max_completion_tokens, b.max_tokens, b.max_output_tokens].find(
    (v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0,
  );
  if (cap === undefined) return 0;
  const n = typeof b.n === 'number' && b.n > 1 ? Math.floor(b.n) : 1;
  return cap * n;
}
