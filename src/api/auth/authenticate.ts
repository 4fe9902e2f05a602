// Who a request acts for: an API key (API_KEYS_FILE), a header set by a trusted auth proxy
// (AUTH_MODE=trusted-header), or nobody in particular (the embedded default: tenant `default`).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, type Config } from '../../config';
import { TenantName } from '../../contract/start-batch';
import { DEFAULT_TENANT } from '../../contract/defaults';
import { ApiError } from '../../domain/api-error';
import { identityOfTenant, KeyRing, type Identity, type KeyRingLog } from './api-keys';

export type AuthSettings =
  | { mode: 'none' }
  | { mode: 'keys'; file: string; watch?: boolean }
  | { mode: 'trusted-header'; header: string };

/** The auth settings of a configuration; throws a one-line ConfigError when they contradict each other. */
export function authSettingsOf(
  config: Pick<Config, 'AUTH_MODE' | 'API_KEYS_FILE' | 'TENANT_HEADER'>,
): AuthSettings {
  const mode = config.AUTH_MODE ?? (config.API_KEYS_FILE ? 'keys' : 'none');
  const bad = (msg: string) => new ConfigError(`invalid configuration: ${msg}`);
  if (mode === 'keys') {
    if (!config.API_KEYS_FILE) throw bad('AUTH_MODE=keys needs API_KEYS_FILE');
    return { mode, file: config.API_KEYS_FILE };
  }
  if (config.API_KEYS_FILE) throw bad(`API_KEYS_FILE is set but AUTH_MODE=${mode}: unset one of them`);
  if (mode === 'trusted-header') {
    if (!config.TENANT_HEADER)
      throw bad('AUTH_MODE=trusted-header needs TENANT_HEADER (e.g. x-forwarded-tenant)');
    return { mode, header: config.TENANT_HEADER };
  }
  return { mode };
}

/** Tells a request's identity, or throws the 401 to answer. */
export interface Authenticator {
  readonly settings: AuthSettings;
  identify(req: FastifyRequest): Identity;
  /** Re-reads the keys file (keys mode); true when new keys took effect. */
  reload(): Promise<boolean>;
  /** One line for the start banner: how callers are identified. */
  describe(): string;
  close(): void;
}

/** A 401 in OpenAI's shape: `invalid_request_error`, param null, code `invalid_api_key`. */
function unauthorized(message: string, code = 'invalid_api_key'): ApiError {
  return new ApiError(401, 'invalid_request_error', message, null, code);
}

/** The key as OpenAI echoes it: a few characters at both ends, the rest hidden. */
function masked(key: string): string {
  return key.length < 12 ? '***' : `${key.slice(0, 3)}***${key.slice(-4)}`;
}

/** The Bearer token of a request; throws 401 when there is none or the header is malformed. */
export function bearerKey(req: FastifyRequest): string {
  const header = req.headers.authorization;
  if (header === undefined || header.trim() === '')
    throw unauthorized(
      "You didn't provide an API key. You need to provide your API key in an Authorization header " +
        'using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
    );
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  if (!match)
    throw unauthorized(
      'Malformed Authorization header: expected Authorization: Bearer YOUR_KEY (one key, no spaces).',
    );
  return match[1];
}

export async function createAuthenticator(settings: AuthSettings, log: KeyRingLog): Promise<Authenticator> {
  switch (settings.mode) {
    case 'none': {
      const identity = identityOfTenant(DEFAULT_TENANT);
      return {
        settings,
        identify: () => identity,
        reload: async () => false,
        describe: () => `none: every caller is tenant '${DEFAULT_TENANT}'`,
        close: () => undefined,
      };
    }
    case 'trusted-header': {
      const { header } = settings;
      return {
        settings,
        identify(req) {
          const value = req.headers[header];
          if (value === undefined || value === '')
            throw unauthorized(
              `Missing tenant header '${header}': this API trusts its auth proxy to set it.`,
              'missing_tenant',
            );
          const tenant = TenantName.safeParse(value);
          if (!tenant.success)
            throw unauthorized(
              `Invalid tenant header '${header}': one value, 1–64 letters, digits, dots, dashes or underscores.`,
              'invalid_tenant',
            );
          return identityOfTenant(tenant.data);
        },
        reload: async () => false,
        describe: () => `trusted header '${header}' (set by the auth proxy in front of this API)`,
        close: () => undefined,
      };
    }
    case 'keys': {
      const ring = await KeyRing.open(settings.file, log, { watch: settings.watch });
      return {
        settings,
        identify(req) {
          const key = bearerKey(req);
          const identity = ring.lookup(key);
          if (!identity)
            throw unauthorized(
              `Incorrect API key provided: ${masked(key)}. Ask the gateway's operators for a key.`,
            );
          return identity;
        },
        reload: () => ring.reload(),
        describe: () => `API keys from ${ring.path} (${ring.sizeText}; reloaded on change and SIGHUP)`,
        close: () => ring.close(),
      };
    }
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on every request but /health. */
    identity: Identity | null;
  }
  interface FastifyInstance {
    auth: Authenticator;
  }
}

/**
 * Routes that need no identity (/metrics: bind the API on a private network, see README). The
 * console's files and settings hold no tenant data; the page sends the user's key on its API calls.
 */
const PUBLIC = new Set([
  '/health',
  '/metrics',
  '/openapi.json',
  '/console',
  '/console/',
  '/console/settings.json',
  '/console/:file',
]);

/**
 * The onRequest hook that identifies every request (but /health) before anything else looks at
 * it: a request without a valid identity gets a 401 and reaches no route, not even a 404.
 */
export function registerAuth(app: FastifyInstance, auth: Authenticator): void {
  app.decorate('auth', auth);
  app.decorateRequest('identity', null);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (PUBLIC.has(req.routeOptions.url ?? '')) return;
    try {
      req.identity = auth.identify(req);
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) void reply.header('www-authenticate', 'Bearer');
      throw err;
    }
  });
  app.addHook('onClose', async () => auth.close());
}

/** The identity the auth hook gave this request. Fails closed: a request it did not see has none. */
export function identityOf(req: FastifyRequest): Identity {
  if (!req.identity) throw new Error(`no identity on ${req.method} ${req.url}: the auth hook did not run`);
  return req.identity;
}

/** Loopback addresses: the only HOSTs an API without authentication binds unless told otherwise. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\./.test(h);
}

/** Refuses (ConfigError) to serve one shared tenant on a non-loopback address unless ALLOW_UNAUTHENTICATED. */
export function checkExposure(
  settings: AuthSettings,
  config: Pick<Config, 'HOST' | 'ALLOW_UNAUTHENTICATED'>,
): void {
  if (settings.mode !== 'none' || isLoopback(config.HOST) || config.ALLOW_UNAUTHENTICATED) return;
  throw new ConfigError(
    `refusing to listen on HOST=${config.HOST} without authentication: anyone reaching it would act as ` +
      `tenant '${DEFAULT_TENANT}'. Set API_KEYS_FILE, or AUTH_MODE=trusted-header with TENANT_HEADER, ` +
      'or ALLOW_UNAUTHENTICATED=true to accept that.',
  );
}

/**
 * Every auth check an entry point can make before it starts anything (ConfigError, one line):
 * contradicting settings, an unauthenticated non-loopback HOST, a bad API_KEYS_FILE.
 */
export async function checkAuthConfig(config: Config): Promise<AuthSettings> {
  const settings = authSettingsOf(config);
  checkExposure(settings, config);
  if (settings.mode === 'keys') {
    const quiet = { info: () => undefined, error: () => undefined };
    (await KeyRing.open(settings.file, quiet, { watch: false })).close();
  }
  return settings;
}
