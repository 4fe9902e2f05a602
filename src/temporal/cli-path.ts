import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

/** Where `npm run setup` puts the temporal CLI (a user-level cache, so clean clones reuse it). */
export const TOOLS_CACHE_BIN = join(
  process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
  'temporal-batch-gateway',
  'bin',
);

const executable = (p: string): boolean => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * A tool `npm run setup` installs: the path in `override` (an env var's value), then the
 * project's .tools/bin, then the setup cache, then PATH.
 */
export function findTool(name: string, override: string | undefined, path = process.env.PATH): string | null {
  const candidates = [
    override,
    resolve(__dirname, '../../.tools/bin', name),
    join(TOOLS_CACHE_BIN, name),
    ...(path ?? '').split(delimiter).map((d) => join(d, name)),
  ];
  return candidates.find((c): c is string => !!c && executable(c)) ?? null;
}

/** The temporal CLI: $TEMPORAL_CLI_PATH, then the project's .tools/bin, then the setup cache, then PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | null {
  return findTool('temporal', env.TEMPORAL_CLI_PATH, env.PATH);
}
