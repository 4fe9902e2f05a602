import Ajv, { type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import { RE2JS } from 're2js';
import { clip } from '../domain/clip';

/**
 * A compiled JSON schema: `check` answers readable issues, or null when the value is valid. A schema
 * that cannot be compiled is `unsupported` when it is valid but names a pattern RE2 cannot run.
 */
export type CompiledSchema =
  { ok: true; check(value: unknown): string[] | null } | { ok: false; error: string; unsupported: boolean };

/** Largest schema accepted (as JSON text): compiling generates code, so size is bounded. */
export const MAX_SCHEMA_CHARS = 100_000;

/** More issues than this on one line would only bloat the error file. */
const MAX_ISSUES = 20;

/** Compiled validators per schema text, per process: the hot path must not recompile per line. */
const CACHE_LIMIT = 500;
const cache = new Map<string, CompiledSchema>();

type AnyAjv = Ajv | Ajv2019 | Ajv2020;
const instances = new Map<string, AnyAjv>();

// strict: false tolerates vendor keywords (OpenAI's `strict`, `name`…) instead of rejecting them;
// formats are not checked because no format package is a declared dependency (ajv-formats).
// addUsedSchema: false, so two tenants' schemas with the same `$id` never collide.
// Patterns (`pattern`, `patternProperties`) run on RE2 (re2js, pure JS): matching is linear in the
// answer's length, so a tenant's `^(a+)+$` cannot stall the worker's event loop as a backtracking
// RegExp would.
const AJV_OPTIONS: Options = {
  allErrors: true,
  strict: false,
  validateFormats: false,
  addUsedSchema: false,
  logger: false,
  code: { regExp: re2RegExp() },
};

/** A valid pattern that RE2 cannot run (backreferences, lookahead): the schema cannot be checked. */
class UnsupportedPattern extends Error {}

/** ajv's RegExpEngine on RE2: JavaScript syntax translated, unanchored `test` as JSON Schema means it. */
function re2RegExp() {
  const engine = (pattern: string, flags: string) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(RE2JS.translateRegExp(pattern));
    } catch (err) {
      let validJs = true;
      try {
        new RegExp(pattern, flags); // compiled, never run: no backtracking happens here
      } catch {
        validJs = false;
      }
      const reason = clip(err instanceof Error ? err.message : String(err), 120);
      if (!validJs)
        throw new Error(`pattern '${clip(pattern)}' is not a valid regular expression (${reason})`);
      throw new UnsupportedPattern(
        `pattern '${clip(pattern)}' cannot be checked in linear time (RE2 has no backreferences or lookaround: ${reason})`,
      );
    }
    // ajv caches compiled patterns by this string.
    const key = `/${pattern}/${flags}`;
    return { test: (s: string) => re.test(s), toString: () => key };
  };
  return Object.assign(engine, { code: 're2js' });
}

/** The ajv flavour for a schema's `$schema` dialect (draft-07 unless it names 2019-09 / 2020-12). */
function ajvFor(schema: unknown): AnyAjv {
  const dialect =
    schema && typeof schema === 'object' ? (schema as Record<string, unknown>).$schema : undefined;
  const flavour =
    typeof dialect === 'string' && dialect.includes('2020-12')
      ? '2020'
      : typeof dialect === 'string' && dialect.includes('2019-09')
        ? '2019'
        : '07';
  let ajv = instances.get(flavour);
  if (!ajv) {
    ajv =
      flavour === '2020'
        ? new Ajv2020(AJV_OPTIONS)
        : flavour === '2019'
          ? new Ajv2019(AJV_OPTIONS)
          : new Ajv(AJV_OPTIONS);
    instances.set(flavour, ajv);
  }
  return ajv;
}

/** One ajv error as a sentence naming where in the content it is (`content/items/0 must be string`). */
export function describeIssue(e: ErrorObject): string {
  const where = 'content' + e.instancePath;
  const p = e.params as Record<string, unknown>;
  // Property names come from the answer and enums from the schema: both quoted short.
  const path = clip(where, 200);
  if (e.keyword === 'additionalProperties')
    return `${path} must not have additional property '${clip(String(p.additionalProperty))}'`;
  if (e.keyword === 'enum') return `${path} must be one of ${clip(JSON.stringify(p.allowedValues), 200)}`;
  return `${path} ${clip(e.message ?? 'is invalid', 200)}`;
}

function issuesOf(validate: ValidateFunction): string[] {
  const errors = validate.errors ?? [];
  const issues = errors.slice(0, MAX_ISSUES).map(describeIssue);
  if (errors.length > MAX_ISSUES) issues.push(`… and ${errors.length - MAX_ISSUES} more issues`);
  return issues.length ? issues : ['content does not match the schema'];
}

function compile(schemaText: string): CompiledSchema {
  if (schemaText.length > MAX_SCHEMA_CHARS)
    return {
      ok: false,
      error: `the schema is larger than ${MAX_SCHEMA_CHARS} characters`,
      unsupported: false,
    };
  try {
    const schema = JSON.parse(schemaText) as unknown;
    if (typeof schema !== 'object' && typeof schema !== 'boolean')
      return { ok: false, error: 'a schema must be an object', unsupported: false };
    const ajv = ajvFor(schema);
    try {
      const validate = ajv.compile(schema as object);
      return { ok: true, check: (value) => (validate(value) ? null : issuesOf(validate)) };
    } finally {
      // ajv keeps every compiled schema in its own cache; ours is the bounded one.
      ajv.removeSchema(schema as object);
    }
  } catch (err) {
    return {
      ok: false,
      error: clip(err instanceof Error ? err.message : String(err), 300),
      unsupported: err instanceof UnsupportedPattern,
    };
  }
}

/** Compiles a schema given as JSON text, once per process (cached by text, failures included). */
export function compileSchema(schemaText: string): CompiledSchema {
  let compiled = cache.get(schemaText);
  if (!compiled) {
    // Request-level schemas come from tenants' files: bound the cache rather than grow without end.
    if (cache.size >= CACHE_LIMIT) {
      cache.clear();
      // ajv keeps every pattern it compiled in its instance's scope: start fresh instances too.
      instances.clear();
    }
    compiled = compile(schemaText);
    cache.set(schemaText, compiled);
  }
  return compiled;
}
