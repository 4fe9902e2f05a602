import { z } from 'zod';
import type { BatchError } from './batch';

/** One request line of a batch input file. */
export const InputLine = z.object({
  custom_id: z.string().min(1),
  method: z.literal('POST'),
  url: z.string(),
  body: z.record(z.string(), z.unknown()),
});
export type InputLine = z.infer<typeof InputLine>;

const REQUIRED_FIELDS = ['custom_id', 'method', 'url', 'body'] as const;

export interface LineRules {
  endpoint: string;
  /** When set, only these models are served (`model_not_found` otherwise). */
  allowedModels?: ReadonlySet<string> | null;
}

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
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
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
    return invalid(lineNo, 'invalid_request', param, `Line ${lineNo}: invalid '${param}': ${issue.message}.`);
  }
  const line = parsed.data;
  if (line.url !== rules.endpoint) {
    return invalid(
      lineNo,
      'invalid_url',
      'url',
      `Line ${lineNo}: url '${line.url}' does not match the batch endpoint '${rules.endpoint}'.`,
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
  if (rules.allowedModels && !rules.allowedModels.has(model)) {
    return invalid(
      lineNo,
      'model_not_found',
      'body.model',
      `Line ${lineNo}: model '${model}' is not served here.`,
    );
  }
  return { ok: true, line, model };
}
