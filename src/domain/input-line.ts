import { z } from 'zod';
import type { BatchError } from './batch';
import { clip } from './clip';
import { exceedsJsonDepth } from './json-depth';

const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** One request line of a batch input file. */
export const InputLine = z.object({
  custom_id: z.string().min(1),
  method: z.literal('POST'),
  url: z.string(),
  // Kept as parsed, not rebuilt: z.record would drop a `__proto__` key of the body (JSON.parse makes
  // it an own key), silently changing the request sent upstream.
  body: z.custom<Record<string, unknown>>(isJsonObject, { message: 'expected a JSON object' }),
});
export type InputLine = z.infer<typeof InputLine>;

const REQUIRED_FIELDS = ['custom_id', 'method', 'url', 'body'] as const;

export interface LineRules {
  endpoint: string;
  /** When set, only these models are served (`model_not_found` otherwise). */
  allowedModels?: ReadonlySet<string> | null;
  /** Deepest nesting of objects and arrays accepted (`json_too_deep` beyond). */
  maxJsonDepth?: number;
  /** Longest `custom_id` accepted, in characters (`invalid_request` beyond). */
  maxCustomIdLength?: number;
}

/** Nesting accepted when the rules name none (MAX_JSON_DEPTH's default). */
export const DEFAULT_MAX_JSON_DEPTH = 64;

/**
 * `custom_id`s accepted when the rules name no limit (MAX_CUSTOM_ID_LENGTH's default): a custom_id
 * travels upstream in two headers (`X-Record-Id`, `Idempotency-Key: <batch_id>:<custom_id>`) and
 * HTTP servers commonly refuse headers over 8 KiB.
 */
export const DEFAULT_MAX_CUSTOM_ID_LENGTH = 512;

/** Characters of a string counted as Unicode code points (a surrogate pair is one character). */
function codePoints(s: string, atMost: number): number {
  let n = 0;
  for (const _ of s) if (++n > atMost) break;
  return n;
}

/** Model names longer than this are refused: a model name travels in workflow inputs and histories. */
export const MAX_MODEL_NAME_CHARS = 256;

export type LineCheck = { ok: true; line: InputLine; model: string } | { ok: false; error: BatchError };

function invalid(line: number, code: string, param: string | null, message: string): LineCheck {
  return { ok: false, error: { code, message, param, line } };
}

/**
 * Validates one input line (1-based `lineNo`) against the contract, returning the parsed line
 * and its model or the OpenAI error code that describes what is wrong. Duplicates and
 * file-level rules are the caller's (they need state across lines).
 */
export function checkInputLine(text: string, lineNo: number, rules: LineRules): LineCheck {
  const maxDepth = rules.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
  // Before parsing: a deep line would overflow the stack of every recursive walk after the parse.
  if (exceedsJsonDepth(text, maxDepth)) {
    return invalid(
      lineNo,
      'json_too_deep',
      null,
      `Line ${lineNo} nests JSON objects or arrays deeper than the maximum of ${maxDepth} levels.`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // Any throw (a SyntaxError, or a RangeError on pathological input) is a line error, never a crash.
    return invalid(lineNo, 'invalid_json_line', null, `Line ${lineNo} is not valid JSON.`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return invalid(lineNo, 'invalid_json_line', null, `Line ${lineNo} is not a JSON object.`);
  }
  const obj = raw as Record<string, unknown>;
  for (const field of REQUIRED_FIELDS) {
    if (obj[field] === undefined || obj[field] === null) {
      return invalid(
        lineNo,
        'missing_required_parameter',
        field,
        `Line ${lineNo} is missing required parameter '${field}'.`,
      );
    }
  }
  const parsed = InputLine.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.') || null;
    return invalid(
      lineNo,
      'invalid_request',
      param,
      `Line ${lineNo}: invalid '${param}': ${clip(issue.message, 200)}.`,
    );
  }
  const line = parsed.data;
  const maxCustomId = rules.maxCustomIdLength ?? DEFAULT_MAX_CUSTOM_ID_LENGTH;
  // .length counts UTF-16 units, never fewer than code points: only a long id is counted exactly.
  if (line.custom_id.length > maxCustomId && codePoints(line.custom_id, maxCustomId) > maxCustomId) {
    return invalid(
      lineNo,
      'invalid_request',
      'custom_id',
      `Line ${lineNo}: custom_id '${clip(line.custom_id)}' is longer than ${maxCustomId} characters.`,
    );
  }
  if (line.url !== rules.endpoint) {
    return invalid(
      lineNo,
      'invalid_url',
      'url',
      `Line ${lineNo}: url '${clip(line.url)}' does not match the batch endpoint '${rules.endpoint}'.`,
    );
  }
  if (line.body.stream === true) {
    return invalid(
      lineNo,
      'streaming_unsupported',
      'body.stream',
      `Line ${lineNo}: streaming is not supported in batches.`,
    );
  }
  const model = line.body.model;
  if (typeof model !== 'string' || model.length === 0) {
    return invalid(lineNo, 'invalid_request', 'body.model', `Line ${lineNo}: body.model is required.`);
  }
  if (model.length > MAX_MODEL_NAME_CHARS) {
    return invalid(
      lineNo,
      'invalid_request',
      'body.model',
      `Line ${lineNo}: model '${clip(model)}' is longer than ${MAX_MODEL_NAME_CHARS} characters.`,
    );
  }
  if (rules.allowedModels && !rules.allowedModels.has(model)) {
    return invalid(
      lineNo,
      'model_not_found',
      'body.model',
      `Line ${lineNo}: model '${clip(model)}' is not served here.`,
    );
  }
  return { ok: true, line, model };
}

/** The error of a line longer than `maxBytes` (measured by the line reader, before any parse). */
export function lineTooLarge(lineNo: number, maxBytes: number): BatchError {
  return {
    code: 'line_too_large',
    message: `Line ${lineNo} is larger than the maximum of ${maxBytes} bytes per line.`,
    param: null,
    line: lineNo,
  };
}
