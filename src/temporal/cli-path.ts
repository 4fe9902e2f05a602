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

/** The temporal CLI: $TEMPORAL_CLI_PATH, then the project's .tools/bin, then the setup cache, then PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env.TEMPORAL_CLI_PATH,
    resolve(__dirname, '../../.tools/bin/temporal'),
    join(TOOLS_CACHE_BIN, 'temporal'),
    ...(env.PATH ?? '').split(delimiter).map((d) => join(d, 'temporal')),
  ];
  return candidates.find((c): c is string => !!c && executable(c)) ?? null;
}
