import type { Usage } from '../domain/batch';

export interface TokenCounts {
  input: number;
  cached: number;
  output: number;
  reasoning: number;
}

export const ZERO_TOKENS: TokenCounts = { input: 0, cached: 0, output: 0, reasoning: 0 };

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Reads token usage from any OpenAI-compatible response: chat/completions, responses or embeddings. */
export function tokensFromBody(body: unknown): TokenCounts {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- shapes differ per endpoint; every read is checked by num()
  const usage = (body as { usage?: Record<string, any> } | null)?.usage;
  if (!usage || typeof usage !== 'object') return ZERO_TOKENS;
  if ('input_tokens' in usage || 'output_tokens' in usage) {
    return {
      input: num(usage.input_tokens),
      cached: num(usage.input_tokens_details?.cached_tokens),
      output: num(usage.output_tokens),
      reasoning: num(usage.output_tokens_details?.reasoning_tokens),
    };
  }
  return {
    input: num(usage.prompt_tokens),
    cached: num(usage.prompt_tokens_details?.cached_tokens),
    output: num(usage.completion_tokens),
    reasoning: num(usage.completion_tokens_details?.reasoning_tokens),
  };
}

export function addTokens(into: Usage, t: TokenCounts): void {
  into.input_tokens += t.input;
  into.input_tokens_details.cached_tokens += t.cached;
  into.output_tokens += t.output;
  into.output_tokens_details.reasoning_tokens += t.reasoning;
  into.total_tokens += t.input + t.output;
}
