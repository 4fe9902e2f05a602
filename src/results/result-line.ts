import { newRequestLineId } from '../ids';
import { MISSING_LINE_MESSAGES } from '../domain/lines';

/**
 * An output/error line with the upstream answer. The body is spliced in as the gateway sent it
 * when it is single-line JSON (no re-serialising on the hot path); otherwise it is re-encoded.
 */
export function responseLine(
  customIdJson: string,
  status: number,
  requestId: string,
  text: string,
  parsed: unknown,
): string {
  let body: string;
  if (parsed !== undefined)
    body = text.includes('\n') || text.includes('\r') ? JSON.stringify(parsed) : text.trim();
  else body = JSON.stringify(text);
  return (
    `{"id":"${newRequestLineId()}","custom_id":${customIdJson},"response":{"status_code":${status},` +
    `"request_id":${JSON.stringify(requestId)},"body":${body}},"error":null}`
  );
}

/** An error line for a request that got no HTTP answer (timeouts, cancelled, expired…). */
export function errorLine(customIdJson: string, code: string, message?: string): string {
  const msg = message ?? MISSING_LINE_MESSAGES[code] ?? code;
  return `{"id":"${newRequestLineId()}","custom_id":${customIdJson},"response":null,"error":${JSON.stringify({ code, message: msg })}}`;
}

/** JSON.parse that answers undefined instead of throwing. */
export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
