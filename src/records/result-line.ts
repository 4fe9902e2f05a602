import { MISSING_LINE_MESSAGES } from '../domain/lines';
import { newRequestLineId } from '../ids';
import type { LineGovernance } from './outcome';

export interface UpstreamAnswer {
  status: number;
  requestId: string;
  text: string;
  /** The parsed body, or undefined when the gateway's answer was not JSON. */
  parsed: unknown;
}

/** The `error` of a line: OpenAI's `{code, message}`, plus extra detail where we have it. */
export interface LineErrorDetail {
  code: string;
  message: string;
  [extra: string]: unknown;
}

const NOT_RUN: LineGovernance = { outcome: 'not_run', attempts: 0, cached: false };

/**
 * One output or error line, in OpenAI's shape plus our `x_governance`. The upstream body is
 * spliced in as the gateway sent it when it is single-line JSON (no re-serialising on the hot
 * path); otherwise it is re-encoded (pretty-printed JSON) or kept as a string (not JSON).
 */
export function resultLine(
  customIdJson: string,
  answer: UpstreamAnswer | null,
  error: LineErrorDetail | null,
  governance: LineGovernance,
): string {
  let response = 'null';
  if (answer) {
    let body: string;
    if (answer.parsed === undefined) body = JSON.stringify(answer.text);
    else if (answer.text.includes('\n') || answer.text.includes('\r')) body = JSON.stringify(answer.parsed);
    else body = answer.text.trim();
    response = `{"status_code":${answer.status},"request_id":${JSON.stringify(answer.requestId)},"body":${body}}`;
  }
  return (
    `{"id":"${newRequestLineId()}","custom_id":${customIdJson},"response":${response},` +
    `"error":${error ? JSON.stringify(error) : 'null'},"x_governance":${JSON.stringify(governance)}}`
  );
}

/** The error line of a request that never ran (cancelled, expired, batch failed, budget exceeded). */
export function notRunLine(customIdJson: string, code: string): string {
  return resultLine(customIdJson, null, { code, message: MISSING_LINE_MESSAGES[code] ?? code }, NOT_RUN);
}

/** JSON.parse that answers undefined instead of throwing. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
