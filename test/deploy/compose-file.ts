// Reads temporal-compose.yml as Docker Compose does: YAML with merge keys, then `${VAR}` interpolation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export const ROOT = join(__dirname, '../..');
export const COMPOSE_PATH = join(ROOT, 'temporal-compose.yml');

export type Env = Record<string, string | undefined>;

/** The file as parsed, before interpolation (merge keys `<<:` resolved, as compose-go does; our own file, so no alias limit). */
export function loadCompose(path = COMPOSE_PATH): Record<string, unknown> {
  return parse(readFileSync(path, 'utf8'), { merge: true, maxAliasCount: -1 }) as Record<string, unknown>;
}

/** The comment block at the top of the file (where compose-only variables are documented). */
export function composeHeader(path = COMPOSE_PATH): string {
  const lines = readFileSync(path, 'utf8').split('\n');
  const end = lines.findIndex((l) => !l.startsWith('#'));
  return lines.slice(0, end).join('\n');
}

// ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, ${NAME+alt}; $NAME; $$.
const TOKEN = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

export class InterpolationError extends Error {}

/** One string, interpolated with Compose's rules (no nested `${}` in defaults: refused, as this file uses none). */
export function interpolateString(value: string, env: Env): string {
  return value.replace(
    TOKEN,
    (whole, braced: string | undefined, op: string | undefined, arg: string | undefined, bare) => {
      if (whole === '$$') return '$';
      const name = (braced ?? bare) as string;
      const v = env[name];
      const unsetOrEmpty = v === undefined || v === '';
      if (arg?.includes('${')) throw new InterpolationError(`nested interpolation in ${whole}`);
      switch (op) {
        case undefined:
          return v ?? '';
        case ':-':
          return unsetOrEmpty ? (arg ?? '') : v;
        case '-':
          return v === undefined ? (arg ?? '') : v;
        case ':?':
          if (unsetOrEmpty) throw new InterpolationError(`${name}: ${arg}`);
          return v;
        case '?':
          if (v === undefined) throw new InterpolationError(`${name}: ${arg}`);
          return v;
        case ':+':
          return unsetOrEmpty ? '' : (arg ?? '');
        case '+':
          return v === undefined ? '' : (arg ?? '');
        default:
          throw new InterpolationError(`unknown operator in ${whole}`);
      }
    },
  );
}

/** Every string value interpolated (Compose leaves keys alone). */
export function interpolate<T>(value: T, env: Env): T {
  if (typeof value === 'string') return interpolateString(value, env) as T;
  if (Array.isArray(value)) return value.map((v) => interpolate(v, env) as unknown) as T;
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, env)])) as T;
  return value;
}

/** Names of every variable the file interpolates (`$$` is a literal dollar, not a variable). */
export function variablesOf(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string')
    for (const m of value.matchAll(TOKEN)) {
      const name = m[1] ?? m[4];
      if (name) into.add(name);
    }
  else if (Array.isArray(value)) value.forEach((v) => variablesOf(v, into));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => variablesOf(v, into));
  return into;
}

/** A `.env` file as Compose reads it: KEY=value lines, `#` comments, optional quotes. */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`not KEY=value: ${line}`);
    let value = line.slice(eq + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[line.slice(0, eq).trim()] = value;
  }
  return env;
}
