// The openai client the commands share (OPENAI_BASE_URL / OPENAI_API_KEY conventions), and calls to our extensions.
import OpenAI from 'openai';
import { CliError, ExitCode, UsageError } from './exit-codes';

/** The embedded default's API (`npm start`). */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8080/v1';

export interface ConnectionOptions {
  'base-url'?: string;
  'api-key'?: string;
}

/** Flags first, then the openai package's environment variables, then the local embedded default. */
export function clientOf(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): OpenAI {
  const baseURL = options['base-url'] ?? (env.OPENAI_BASE_URL || DEFAULT_BASE_URL);
  if (!URL.canParse(baseURL)) throw new UsageError(`not a URL: '${baseURL}'`);
  // The embedded default (AUTH_MODE none) takes any key; a server with keys answers 401, which says so.
  const apiKey = options['api-key'] ?? (env.OPENAI_API_KEY || 'unused');
  return new OpenAI({ baseURL, apiKey });
}

/**
 * Requests that change state answer 409 with a reason (not pausable, not finished): the openai
 * client would retry a 409 twice with backoff before telling us, so these go once.
 */
export const ONCE = { maxRetries: 0 } as const;

/**
 * Calls one of our extension routes. Their 404 is ambiguous — an unknown batch, an unknown record,
 * or a server without the route (another OpenAI-compatible API): the batch itself tells which.
 */
export async function callExtension<T>(
  client: OpenAI,
  batchId: string,
  route: string,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof OpenAI.NotFoundError) || err.code === 'request_not_found') throw err;
    await client.batches.retrieve(batchId); // an unknown batch throws its own 404 here
    throw new CliError(
      `the server at ${client.baseURL} does not offer ${route} (an extension of the batch gateway)`,
      ExitCode.usage,
    );
  }
}

/** A batch id as a path segment (ids are validated by the server; this keeps the path one segment). */
export function batchPath(batchId: string, rest = ''): string {
  return `/batches/${encodeURIComponent(batchId)}${rest}`;
}
