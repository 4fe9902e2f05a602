/**
 * Fake OpenAI response bodies. Everything is derived from the request so tests can check that an
 * output belongs to its input; nothing here is random.
 */
import { fnv1a } from './faults';

/** Request bodies arrive as parsed JSON; fields are probed defensively because clients send anything. */
export type Json = Record<string, unknown>;

const ECHO_CHARS = 200;
const EMBEDDING_DIMS = 8;
const MAX_EMBEDDING_DIMS = 4096;

/** Cheap, deterministic token estimate (about four characters per token). */
export function estimateTokens(chars: number): number {
  return chars > 0 ? Math.ceil(chars / 4) : 0;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Text of a message `content`: a string, or an array of parts whose text-ish members are joined. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let out = '';
  for (const part of content) {
    if (typeof part === 'string') out += part;
    else if (part && typeof part === 'object') {
      const t = (part as Json).text;
      if (typeof t === 'string') out += t;
    }
  }
  return out;
}

/** Last user message text plus the total character count of all messages (for prompt tokens). */
function lastUserText(messages: unknown): { text: string; chars: number } {
  if (!Array.isArray(messages)) return { text: '', chars: 0 };
  let text = '';
  let chars = 0;
  let found = false;
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Json | null;
    if (!m || typeof m !== 'object') continue;
    const t = contentText(m.content);
    chars += t.length;
    if (!found && m.role === 'user') {
      text = t;
      found = true;
    }
  }
  return { text, chars };
}

function wantsJson(format: unknown): boolean {
  if (!format || typeof format !== 'object') return false;
  const type = (format as Json).type;
  return type === 'json_schema' || type === 'json_object';
}

/**
 * Assistant text: an echo, or for JSON response formats `{"echo": ...}` unless `#sim:badjson` asks for
 * garbage; `#sim:pad=N` adds N characters (to the echo, so JSON stays JSON).
 */
function assistantText(userText: string, json: boolean, badJson: boolean, padChars = 0): string {
  const echo = userText.slice(0, ECHO_CHARS) + (padChars > 0 ? ' ' + '.'.repeat(padChars) : '');
  if (!json) return 'echo: ' + echo;
  if (badJson) return 'this is not JSON: ' + echo;
  return JSON.stringify({ echo });
}

export interface BodyContext {
  /** Hex sequence number shared with the x-request-id header, used to build object ids. */
  seq: string;
  model: string;
  badJson: boolean;
  flag: boolean;
  /** Characters `#sim:pad=N` adds to the answer's text. */
  padChars?: number;
}

export function chatCompletion(body: Json, ctx: BodyContext): Json {
  const { text, chars } = lastUserText(body.messages);
  const content = assistantText(text, wantsJson(body.response_format), ctx.badJson, ctx.padChars);
  const n = typeof body.n === 'number' && body.n >= 1 && body.n <= 128 ? Math.floor(body.n) : 1;
  const choices: Json[] = [];
  for (let i = 0; i < n; i++) {
    choices.push({
      index: i,
      message: { role: 'assistant', content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: 'stop',
    });
  }
  const promptTokens = estimateTokens(chars);
  const completionTokens = estimateTokens(content.length) * n;
  return {
    id: 'chatcmpl-sim' + ctx.seq,
    object: 'chat.completion',
    created: nowSeconds(),
    model: ctx.model,
    choices,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_simulator',
  };
}

/** `prompt` may be a string, an array of strings, or token arrays; token arrays echo as their length. */
function promptList(prompt: unknown): string[] {
  if (typeof prompt === 'string') return [prompt];
  if (!Array.isArray(prompt) || prompt.length === 0) return [''];
  if (typeof prompt[0] === 'number') return [`<${prompt.length} tokens>`];
  return prompt.map((p) => (typeof p === 'string' ? p : Array.isArray(p) ? `<${p.length} tokens>` : ''));
}

export function textCompletion(body: Json, ctx: BodyContext): Json {
  const prompts = promptList(body.prompt);
  let promptChars = 0;
  let completionChars = 0;
  const choices = prompts.map((p, index) => {
    const text = 'echo: ' + p.slice(0, ECHO_CHARS);
    promptChars += p.length;
    completionChars += text.length;
    return { text, index, logprobs: null, finish_reason: 'stop' };
  });
  const promptTokens = estimateTokens(promptChars);
  const completionTokens = estimateTokens(completionChars);
  return {
    id: 'cmpl-sim' + ctx.seq,
    object: 'text_completion',
    created: nowSeconds(),
    model: ctx.model,
    choices,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    system_fingerprint: 'fp_simulator',
  };
}

/** Embedding inputs: string, string[], token array, or array of token arrays. */
function embeddingInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return [''];
  if (typeof input[0] === 'number') return [input.join(',')];
  return input.map((x) => (typeof x === 'string' ? x : Array.isArray(x) ? x.join(',') : ''));
}

/** Unit-length vector seeded from the text's hash (xorshift32), so equal inputs embed identically. */
export function embeddingVector(text: string, dims: number): number[] {
  let s = fnv1a(text) || 1;
  const v = new Array<number>(dims);
  let norm = 0;
  for (let i = 0; i < dims; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const x = (s >>> 0) / 0x1_0000_0000 - 0.5;
    v[i] = x;
    norm += x * x;
  }
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dims; i++) v[i] = Math.fround(v[i] * inv);
  return v;
}

/** The official client asks for base64 by default: little-endian float32 bytes. */
function toBase64(v: number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString('base64');
}

export function embeddings(body: Json, ctx: BodyContext): Json {
  const inputs = embeddingInputs(body.input);
  const dims =
    typeof body.dimensions === 'number' && body.dimensions >= 1
      ? Math.min(Math.floor(body.dimensions), MAX_EMBEDDING_DIMS)
      : EMBEDDING_DIMS;
  const base64 = body.encoding_format === 'base64';
  let chars = 0;
  const data = inputs.map((text, index) => {
    chars += text.length;
    const v = embeddingVector(text, dims);
    return { object: 'embedding', index, embedding: base64 ? toBase64(v) : v };
  });
  const tokens = estimateTokens(chars);
  return {
    object: 'list',
    data,
    model: ctx.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

/** Responses API `input`: a string, or items whose last user message is echoed. */
function responsesInput(input: unknown): { text: string; chars: number } {
  if (typeof input === 'string') return { text: input, chars: input.length };
  return lastUserText(input);
}

export function response(body: Json, ctx: BodyContext): Json {
  const { text, chars } = responsesInput(body.input);
  const textOpts = body.text as Json | undefined;
  const format = textOpts && typeof textOpts === 'object' ? textOpts.format : undefined;
  const out = assistantText(text, wantsJson(format), ctx.badJson, ctx.padChars);
  const instructions = typeof body.instructions === 'string' ? body.instructions : null;
  const inputTokens = estimateTokens(chars + (instructions?.length ?? 0));
  const outputTokens = estimateTokens(out.length);
  return {
    id: 'resp_sim' + ctx.seq,
    object: 'response',
    created_at: nowSeconds(),
    status: 'completed',
    error: null,
    incomplete_details: null,
    instructions,
    max_output_tokens: typeof body.max_output_tokens === 'number' ? body.max_output_tokens : null,
    model: ctx.model,
    output: [
      {
        type: 'message',
        id: 'msg_sim' + ctx.seq,
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: out, annotations: [] }],
      },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    temperature: typeof body.temperature === 'number' ? body.temperature : 1,
    top_p: typeof body.top_p === 'number' ? body.top_p : 1,
    tool_choice: 'auto',
    tools: [],
    text: { format: format ?? { type: 'text' } },
    usage: {
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      total_tokens: inputTokens + outputTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    },
    metadata: body.metadata && typeof body.metadata === 'object' ? body.metadata : {},
  };
}

const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

/** Moderation input: string, string[], or multimodal parts (only text parts are considered). */
function moderationInputs(input: unknown): string[] {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return [''];
  return input.map((x) => (typeof x === 'string' ? x : contentText([x])));
}

/** Nothing is flagged unless the input carries `#sim:flag`, which flags the "violence" category. */
export function moderation(body: Json, ctx: BodyContext): Json {
  const results = moderationInputs(body.input).map((text) => {
    const flagged = ctx.flag && text.includes('#sim:flag');
    const categories: Record<string, boolean> = {};
    const scores: Record<string, number> = {};
    const applied: Record<string, string[]> = {};
    for (const c of MODERATION_CATEGORIES) {
      const hit = flagged && c === 'violence';
      categories[c] = hit;
      scores[c] = hit ? 0.99 : 0.0001;
      applied[c] = ['text'];
    }
    return { flagged, categories, category_scores: scores, category_applied_input_types: applied };
  });
  return { id: 'modr-sim' + ctx.seq, model: ctx.model, results };
}

export const MODELS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1-mini',
  'o4-mini',
  'gpt-3.5-turbo-instruct',
  'text-embedding-3-small',
  'text-embedding-3-large',
  'omni-moderation-latest',
] as const;

// Fixed timestamp keeps the model list byte-identical across runs.
const MODEL_CREATED = 1_700_000_000;

export function modelObject(id: string): Json {
  return { id, object: 'model', created: MODEL_CREATED, owned_by: 'simulator' };
}

export const MODEL_LIST: Json = { object: 'list', data: MODELS.map(modelObject) };

/** OpenAI error envelope. */
export function errorBody(
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  extra?: Json,
): Json {
  return { error: { message, type, param, code, ...extra } };
}

/** Error bodies for simulated status faults, shaped like the real gateway / OpenAI answers. */
export function faultErrorBody(status: number): Json {
  switch (status) {
    case 400:
      return errorBody('Simulated invalid request.', 'invalid_request_error', 'invalid_request');
    case 401:
      return errorBody('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    case 403:
      return errorBody(
        'You are not allowed to use this model.',
        'permission_error',
        'insufficient_permissions',
      );
    case 404:
      return errorBody(
        'The model does not exist or you do not have access to it.',
        'invalid_request_error',
        'model_not_found',
      );
    case 409:
      return errorBody(
        'Request blocked by policy content_safety (simulated).',
        'policy_violation',
        'policy_blocked',
        null,
        { policy: 'content_safety' },
      );
    case 422:
      return errorBody('Simulated unprocessable request.', 'invalid_request_error', 'unprocessable_entity');
    case 429:
      return errorBody(
        'Rate limit reached (simulated). Please retry later.',
        'rate_limit_error',
        'rate_limit_exceeded',
      );
    case 500:
      return errorBody(
        'The server had an error while processing your request (simulated).',
        'server_error',
        'internal_error',
      );
    case 502:
      return errorBody('Bad gateway (simulated).', 'server_error', 'bad_gateway');
    case 503:
      return errorBody(
        'The engine is currently overloaded (simulated).',
        'server_error',
        'service_unavailable',
      );
    case 504:
      return errorBody('Upstream timed out (simulated).', 'server_error', 'timeout');
    default:
      return status >= 500
        ? errorBody(`Simulated server error ${status}.`, 'server_error', `http_${status}`)
        : errorBody(`Simulated client error ${status}.`, 'invalid_request_error', `http_${status}`);
  }
}
