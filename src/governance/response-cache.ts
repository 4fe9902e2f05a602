import { createHash } from 'node:crypto';
import type { RequestOutcome } from '../gateway/execute-request';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';

type Answered = Extract<RequestOutcome, { kind: 'response' }>;

interface CachedAnswer {
  status: number;
  requestId: string | null;
  headers: Record<string, string>;
  text: string;
  expiresAt: number;
}

/**
 * The optional cross-batch response cache (RESPONSE_CACHE_TTL_S > 0): a 2xx answer is kept per
 * tenant under a hash of endpoint and body, and an identical request of any later batch within
 * the TTL is answered from it without calling the gateway. (Within one batch, repeats are
 * handled at ingest and finalize, whatever this setting.)
 */
export class ResponseCache {
  constructor(
    private readonly store: ObjectStore,
    private readonly ttlSeconds: number,
    /** Response headers worth keeping (the request id, the governance flag header). */
    private readonly keepHeaders: string[],
  ) {}

  private key(tenant: string, endpoint: string, body: string): string {
    return layout.responseCache(
      tenant,
      createHash('sha256').update(endpoint).update('\n').update(body).digest('hex'),
    );
  }

  async get(tenant: string, endpoint: string, body: string): Promise<Answered | null> {
    const raw = await this.store.get(this.key(tenant, endpoint, body));
    if (!raw) return null;
    const hit = JSON.parse(raw.toString('utf8')) as CachedAnswer;
    if (hit.expiresAt <= Date.now() / 1000) return null;
    return {
      kind: 'response',
      status: hit.status,
      statusClass: 'success',
      requestId: hit.requestId,
      headers: hit.headers,
      text: hit.text,
      attempts: 0,
    };
  }

  async put(tenant: string, endpoint: string, body: string, answer: Answered): Promise<void> {
    const headers: Record<string, string> = {};
    for (const name of this.keepHeaders) {
      const v = answer.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const entry: CachedAnswer = {
      status: answer.status,
      requestId: answer.requestId,
      headers,
      text: answer.text,
      expiresAt: Math.floor(Date.now() / 1000) + this.ttlSeconds,
    };
    await this.store.put(this.key(tenant, endpoint, body), JSON.stringify(entry));
  }
}
