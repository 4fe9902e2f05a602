// GET /console: the browser console's page, script and stylesheet (no API key: the page itself
// asks for one and sends it on its API calls), plus the few settings the page needs.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  buildConsole,
  CONSOLE_FILES,
  sourcesVersion,
  type ConsoleAssets,
  type ConsoleFile,
} from '../console/build';
import type { Config } from '../config';
import { ApiError } from '../domain/api-error';

/** Where the console links a batch's workflow to: `{temporalUiUrl}/namespaces/{namespace}/workflows/{id}`. */
export interface WebUiLink {
  /** Base URL of the Temporal Web UI. */
  temporalUiUrl: string;
  namespace: string;
}

/** What the page is told at /console/settings.json. */
export interface ConsoleSettings extends WebUiLink {
  /** The completion windows a create may choose (COMPLETION_WINDOWS). */
  completionWindows: string[];
}

/** The Web UI link of a configuration (TEMPORAL_UI_URL, else the local Web UI's port). */
export function webUiLinkOf(
  config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_UI_PORT' | 'TEMPORAL_NAMESPACE'>,
): WebUiLink {
  const url = config.TEMPORAL_UI_URL ?? `http://localhost:${config.TEMPORAL_UI_PORT}`;
  return { temporalUiUrl: url.replace(/\/+$/, ''), namespace: config.TEMPORAL_NAMESPACE };
}

/** Without a configuration (tests): the local Web UI's defaults. */
export const DEFAULT_WEB_UI_LINK: WebUiLink = {
  temporalUiUrl: 'http://localhost:8233',
  namespace: 'default',
};

const CONTENT_TYPES: Record<ConsoleFile, string> = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
};

/**
 * Only our own origin: the page loads nothing from elsewhere and talks only to this API (downloads
 * are blob: URLs). The Web UI link is a navigation, which this policy does not govern.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/**
 * Where the files come from. Compiled (dist/): the ones `npm run build` wrote to dist/console/.
 * From the TypeScript sources (tsx, vitest): built in memory on first request, again after an edit.
 */
function assetSource(): () => Promise<ConsoleAssets | null> {
  if (__filename.endsWith('.js')) {
    const dir = resolve(__dirname, '../console');
    let loaded: Promise<ConsoleAssets | null> | null = null;
    const load = async () => {
      try {
        const bodies = await Promise.all(CONSOLE_FILES.map((f) => readFile(resolve(dir, f))));
        return new Map(CONSOLE_FILES.map((f, i) => [f, bodies[i]]));
      } catch {
        loaded = null; // not built yet: look again next time
        return null;
      }
    };
    return () => (loaded ??= load());
  }
  let built: { version: number; assets: Promise<ConsoleAssets> } | null = null;
  return async () => {
    const version = await sourcesVersion();
    if (!built || built.version !== version) built = { version, assets: buildConsole() };
    return built.assets;
  };
}

export function registerConsoleRoute(app: FastifyInstance, settings: ConsoleSettings): void {
  const assets = assetSource();
  const send = async (reply: FastifyReply, name: string) => {
    if (!(CONSOLE_FILES as readonly string[]).includes(name))
      throw new ApiError(404, 'not_found_error', `No such console file: '${name.slice(0, 64)}'`);
    const files = await assets();
    const body = files?.get(name as ConsoleFile);
    if (!body) throw new ApiError(404, 'not_found_error', 'The console is not built: run npm run build.');
    return reply
      .header('content-type', CONTENT_TYPES[name as ConsoleFile])
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(body);
  };
  app.get('/console', async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/', async (_req, reply) => send(reply, 'index.html'));
  app.get('/console/settings.json', async () => settings);
  app.get<{ Params: { file: string } }>('/console/:file', async (req, reply) => send(reply, req.params.file));
}
