// One look at the gateway when a worker starts, so a wrong GATEWAY_URL or a gateway that is down
// shows up as one clear log line instead of a batch whose every line is a 404 or a retry.
import { request } from 'undici';
import { gatewayBase } from './client';

export interface ProbeResult {
  /** The gateway answered like an OpenAI-compatible API at `<base>/v1`. */
  ok: boolean;
  /** One line for the worker's log. */
  line: string;
}

type Answer = { status: number } | { error: string };

async function ask(url: string, method: 'GET' | 'POST', apiKey: string, timeoutMs: number): Promise<Answer> {
  try {
    const res = await request(url, {
      method,
      headers: {
        ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'POST' ? { body: '{}' } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return { status: res.statusCode };
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return { error: `no answer within ${timeoutMs} ms` };
    return { error: e.code ?? e.message ?? String(err) };
  }
}

const refused = (status: number) => status === 401 || status === 403;
const missing = (status: number) => status === 404 || status === 405;

/**
 * GET `<base>/v1/models`; when that is not served (404/405), POST `{}` to `<base>/v1/chat/completions`,
 * which a gateway serving the batch endpoints answers with a 4xx of its own (bad request), never 404.
 * Any HTTP answer means reachable; nothing here throws.
 */
export async function probeGateway(
  gatewayUrl: string,
  apiKey: string,
  timeoutMs = 5000,
): Promise<ProbeResult> {
  const api = `${gatewayBase(gatewayUrl)}/v1`;
  const unreachable = (error: string): ProbeResult => ({
    ok: false,
    line: `gateway probe: ${api} is UNREACHABLE (${error}); batches will retry their requests until it answers`,
  });
  const keyRefused = (status: number, what: string): ProbeResult => ({
    ok: false,
    line: `gateway probe: ${api} REFUSES the API key (HTTP ${status} on ${what}); batches will halt with gateway_auth_failed — check GATEWAY_API_KEY`,
  });

  const models = await ask(`${api}/models`, 'GET', apiKey, timeoutMs);
  if ('error' in models) return unreachable(models.error);
  if (refused(models.status)) return keyRefused(models.status, 'GET /v1/models');
  if (!missing(models.status))
    return { ok: true, line: `gateway probe: ${api} answers (GET /v1/models → ${models.status})` };

  const chat = await ask(`${api}/chat/completions`, 'POST', apiKey, timeoutMs);
  if ('error' in chat) return unreachable(chat.error);
  if (refused(chat.status)) return keyRefused(chat.status, 'POST /v1/chat/completions');
  if (missing(chat.status)) {
    return {
      ok: false,
      line:
        `gateway probe: ${api} does NOT SERVE the batch endpoints (HTTP ${models.status} on GET /v1/models, ` +
        `${chat.status} on POST /v1/chat/completions); every request would fail — check GATEWAY_URL ` +
        `(written as https://host or https://host/v1, with any path prefix the gateway needs)`,
    };
  }
  return {
    ok: true,
    line: `gateway probe: ${api} answers (POST /v1/chat/completions → ${chat.status}; no /v1/models)`,
  };
}
