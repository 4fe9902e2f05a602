import { Agent, request } from 'undici';

export interface GatewayResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export interface GatewayClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Upper bound on sockets per origin: a safety net only; the limiters decide what is in flight. */
  connections: number;
  timeoutMs: number;
  /**
   * GATEWAY_TENANT_HEADER (empty or absent: none): set on every call to the tenant `post` is
   * given, after every other header, so no captured or passed header can supply or override it.
   */
  tenantHeader?: string;
}

/** Thrown for failures below HTTP: connection refused or reset, or the per-request timeout. */
export class TransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'connection',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The gateway's origin (and path prefix, if any) that request paths such as `/v1/chat/completions`
 * are appended to. GATEWAY_URL may be written either way — `https://gw.example` or, like an
 * OpenAI base URL, `https://gw.example/v1` — so one trailing `/v1` and trailing slashes are dropped.
 */
export function gatewayBase(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '').replace(/\/+$/, '');
}

/** POSTs to the LLM gateway over a keep-alive pool. Retries are the caller's (retry.ts), never the client's. */
export class GatewayClient {
  private readonly agent: Agent;
  private readonly base: string;
  private readonly fixedHeaders: Record<string, string>;
  private readonly tenantHeader: string;

  constructor(private readonly opts: GatewayClientOptions) {
    this.base = gatewayBase(opts.baseUrl);
    this.tenantHeader = (opts.tenantHeader ?? '').toLowerCase();
    this.fixedHeaders = {
      'content-type': 'application/json',
      ...(opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {}),
    };
    this.agent = new Agent({
      connections: opts.connections,
      keepAliveTimeout: 30_000,
    });
  }

  /** One attempt. `tenant` is the batch's tenant, sent as the tenant header (if configured). */
  async post(
    path: string,
    body: string,
    headers: Record<string, string>,
    tenant?: string,
  ): Promise<GatewayResponse> {
    try {
      const res = await request(this.base + path, {
        method: 'POST',
        dispatcher: this.agent,
        body,
        // undici's own timers (coarse, shared) instead of an AbortController and a timer per request.
        headersTimeout: this.opts.timeoutMs,
        bodyTimeout: this.opts.timeoutMs,
        headers: this.headersFor(headers, tenant),
      });
      const text = await res.body.text();
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new TransportError('timeout', `no answer from the gateway within ${this.opts.timeoutMs} ms`);
      }
      throw new TransportError('connection', `gateway connection failed: ${(err as Error).message}`);
    }
  }

  /** Fixed headers, then the call's, then the tenant header: any spelling of it in `headers` is dropped. */
  private headersFor(headers: Record<string, string>, tenant: string | undefined): Record<string, string> {
    const all = { ...this.fixedHeaders, ...headers };
    if (!this.tenantHeader) return all;
    for (const name of Object.keys(all)) if (name.toLowerCase() === this.tenantHeader) delete all[name];
    if (tenant !== undefined) all[this.tenantHeader] = tenant;
    return all;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
