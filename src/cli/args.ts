// Command-line parsing on node:util's parseArgs: the shared flags, positionals, typed option values.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Accepted by every command, before or after its arguments. */
export const GLOBAL_OPTIONS = {
  'base-url': { type: 'string' },
  'api-key': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionsConfig;

export const GLOBAL_HELP = `Connection (every command):
  --base-url URL     the API's base URL (default: $OPENAI_BASE_URL, else http://127.0.0.1:8080/v1)
  --api-key KEY      the API key (default: $OPENAI_API_KEY; the embedded default needs none)
  -h, --help         this help`;

export interface CommandLine<O extends OptionsConfig> {
  values: ReturnType<
    typeof parseArgs<{ options: typeof GLOBAL_OPTIONS & O; allowPositionals: true }>
  >['values'];
  positionals: string[];
}

/**
 * Parses one command's arguments strictly: an unknown flag, a flag without its value, a missing or
 * extra positional is a UsageError naming it.
 */
export function parseCommandLine<O extends OptionsConfig>(
  command: string,
  argv: string[],
  options: O,
  positionalNames: readonly string[],
): CommandLine<O> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(parseErrorMessage(err), command);
  }
  const { positionals } = parsed;
  if (positionals.length < positionalNames.length)
    throw new UsageError(`missing ${positionalNames[positionals.length]}`, command);
  if (positionals.length > positionalNames.length)
    throw new UsageError(`unexpected argument '${positionals[positionalNames.length]}'`, command);
  return parsed;
}

/** parseArgs' messages, shortened to their first sentence ("Unknown option '--x'"). */
function parseErrorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split(/\.\s/)[0].replace(/\.$/, '');
}

/** A positive number of seconds (`--interval 0.5`), in milliseconds. */
export function secondsOption(
  value: string | undefined,
  flag: string,
  command: string,
  fallbackMs: number,
): number {
  if (value === undefined) return fallbackMs;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--${flag} must be a positive number of seconds, not '${value}'`, command);
  return Math.round(seconds * 1000);
}

/** A positive integer (`--limit 20`). */
export function integerOption(
  value: string | undefined,
  flag: string,
  command: string,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${flag} must be a positive integer, not '${value}'`, command);
  return n;
}

/** `--metadata k=v` pairs; a key may be any string (`__proto__` included), the value may hold `=`. */
export function metadataOption(
  pairs: string[] | undefined,
  command: string,
): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const entries = pairs.map((pair): [string, string] => {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--metadata takes key=value, not '${pair}'`, command);
    return [pair.slice(0, eq), pair.slice(eq + 1)];
  });
  // fromEntries defines own properties: a key `__proto__` stays a key, not a prototype.
  return Object.fromEntries(entries);
}

/** `--codes 500,request_timeout` → ['500', 'request_timeout']. */
export function listOption(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
