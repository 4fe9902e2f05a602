import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';

/** A compiled JSON schema: `check` answers readable issues, or null when the value is valid. */
export type CompiledSchema =
  { ok: true; check(value: unknown): string[] | null } | { ok: false; error: string };

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
const AJV_OPTIONS = {
  allErrors: true,
  strict: false,
  validateFormats: false,
  addUsedSchema: false,
  logger: false,
} as const;

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
  if (e.keyword === 'additionalProperties')
    return `${where} must not have additional property '${String(p.additionalProperty)}'`;
  if (e.keyword === 'enum') return `${where} must be one of ${JSON.stringify(p.allowedValues)}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

function issuesOf(validate: ValidateFunction): string[] {
  const errors = validate.errors ?? [];
  const issues = errors.slice(0, MAX_ISSUES).map(describeIssue);
  if (errors.length > MAX_ISSUES) issues.push(`… and ${errors.length - MAX_ISSUES} more issues`);
  return issues.length ? issues : ['content does not match the schema'];
}

function compile(schemaText: string): CompiledSchema {
  if (schemaText.length > MAX_SCHEMA_CHARS)
    return { ok: false, error: `the schema is larger than ${MAX_SCHEMA_CHARS} characters` };
  try {
    const schema = JSON.parse(schemaText) as unknown;
    if (typeof schema !== 'object' && typeof schema !== 'boolean')
      return { ok: false, error: 'a schema must be an object' };
    const ajv = ajvFor(schema);
    try {
      const validate = ajv.compile(schema as object);
      return { ok: true, check: (value) => (validate(value) ? null : issuesOf(validate)) };
    } finally {
      // ajv keeps every compiled schema in its own cache; ours is the bounded one.
      ajv.removeSchema(schema as object);
    }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/** Compiles a schema given as JSON text, once per process (cached by text, failures included). */
export function compileSchema(schemaText: string): CompiledSchema {
  let compiled = cache.get(schemaText);
  if (!compiled) {
    // Request-level schemas come from tenants' files: bound the cache rather than grow without end.
    if (cache.size >= CACHE_LIMIT) cache.clear();
    compiled = compile(schemaText);
    cache.set(schemaText, compiled);
  }
  return compiled;
}
