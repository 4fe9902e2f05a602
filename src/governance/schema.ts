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
// RegExp would. Each pattern is first compiled (never run) as an ECMAScript RegExp with ajv's flags,
// then translated so that it means the same on RE2 (translatePattern).
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

type Ranges = [number, number][];

const MAX_CODE_POINT = 0x10ffff;
/** ECMAScript's `\s`: WhiteSpace and LineTerminator (RE2's `\s` is ASCII only). */
const JS_SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
  [0xa0, 0xa0],
  [0x1680, 0x1680],
  [0x2000, 0x200a],
  [0x2028, 0x2029],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
  [0xfeff, 0xfeff],
];
/** What ECMAScript's `.` does not match without the s flag. */
const LINE_TERMINATORS: Ranges = [
  [0x0a, 0x0a],
  [0x0d, 0x0d],
  [0x2028, 0x2029],
];
const DIGITS: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
/** `\w` with the u and i flags: also ſ and the Kelvin sign, which fold to s and k. */
const WORD_UI: Ranges = [...WORD, [0x17f, 0x17f], [0x212a, 0x212a]];
const ALL: Ranges = [[0, MAX_CODE_POINT]];

/** The code points not in `ranges` (sorted, disjoint). */
function complement(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push([next, MAX_CODE_POINT]);
  return out;
}

const hex = (cp: number) => `\\x{${cp.toString(16)}}`;
const rangeItems = (ranges: Ranges) =>
  ranges.map(([lo, hi]) => (lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`)).join('');
/** A set of code points as an RE2 class; an empty set is a class matching nothing. */
const rangeClass = (ranges: Ranges) => (ranges.length ? `[${rangeItems(ranges)}]` : `[^${rangeItems(ALL)}]`);
/** One code point as an RE2 literal (escaped unless a letter or digit: never a metacharacter). */
const literal = (cp: number) =>
  /[0-9A-Za-z]/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : hex(cp);

/** General_Category values by their long names and aliases (ECMAScript accepts both). */
const GENERAL_CATEGORIES: Record<string, string> = {
  Letter: 'L',
  Cased_Letter: 'LC',
  Uppercase_Letter: 'Lu',
  Lowercase_Letter: 'Ll',
  Titlecase_Letter: 'Lt',
  Modifier_Letter: 'Lm',
  Other_Letter: 'Lo',
  Mark: 'M',
  Combining_Mark: 'M',
  Nonspacing_Mark: 'Mn',
  Spacing_Mark: 'Mc',
  Enclosing_Mark: 'Me',
  Number: 'N',
  Decimal_Number: 'Nd',
  digit: 'Nd',
  Letter_Number: 'Nl',
  Other_Number: 'No',
  Punctuation: 'P',
  punct: 'P',
  Connector_Punctuation: 'Pc',
  Dash_Punctuation: 'Pd',
  Open_Punctuation: 'Ps',
  Close_Punctuation: 'Pe',
  Initial_Punctuation: 'Pi',
  Final_Punctuation: 'Pf',
  Other_Punctuation: 'Po',
  Symbol: 'S',
  Math_Symbol: 'Sm',
  Currency_Symbol: 'Sc',
  Modifier_Symbol: 'Sk',
  Other_Symbol: 'So',
  Separator: 'Z',
  Space_Separator: 'Zs',
  Line_Separator: 'Zl',
  Paragraph_Separator: 'Zp',
  Other: 'C',
  Control: 'Cc',
  cntrl: 'Cc',
  Format: 'Cf',
  Surrogate: 'Cs',
  Private_Use: 'Co',
  Unassigned: 'Cn',
};
const SHORT_CATEGORIES = new Set(Object.values(GENERAL_CATEGORIES));

/**
 * An ECMAScript pattern (already known to compile with its flags) rewritten for RE2 with the same
 * meaning: `\s`, `\S`, `.`, `\w`… as ECMAScript defines them (RE2's are ASCII, its `.` excludes only
 * `\n`), `[\b]` as backspace, the flags as RE2 prefixes. What has no exact RE2 equivalent throws
 * UnsupportedPattern: the schema is then reported as one that cannot be checked, never checked
 * with another meaning.
 */
export function translatePattern(pattern: string, flags: string): string {
  const unsupported = (why: string): never => {
    throw new UnsupportedPattern(why);
  };
  for (const f of flags)
    if (!'uimsd'.includes(f)) unsupported(`the regular expression flag '${f}' is not supported`);
  // Without u, ECMAScript matches UTF-16 units (`.` is half an emoji) and its syntax is looser:
  // RE2 only matches code points. ajv passes u (its unicodeRegExp option is on by default).
  if (!flags.includes('u')) unsupported('patterns are checked in Unicode mode (the u flag) only');
  const ignoreCase = flags.includes('i');
  const multiline = flags.includes('m');
  const dotAll = flags.includes('s');
  const word = ignoreCase ? WORD_UI : WORD;

  let i = 0;
  const next = (): number => {
    const cp = pattern.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    return cp;
  };
  const hexDigits = (n: number): number => {
    const h = pattern.slice(i, i + n);
    i += n;
    return parseInt(h, 16);
  };
  /** `\u…` after the u: `{…}`, or four digits joined with a following `\uDC00`-`\uDFFF`. */
  const unicodeEscape = (): number => {
    if (pattern[i] === '{') {
      const end = pattern.indexOf('}', i);
      const cp = parseInt(pattern.slice(i + 1, end), 16);
      i = end + 1;
      return cp;
    }
    const lead = hexDigits(4);
    if (lead >= 0xd800 && lead <= 0xdbff && /^\\u[dD][c-fC-F][0-9a-fA-F]{2}/.test(pattern.slice(i, i + 6))) {
      i += 2;
      const trail = hexDigits(4);
      return (lead - 0xd800) * 0x400 + (trail - 0xdc00) + 0x10000;
    }
    return lead;
  };
  /** `\p{…}` / `\P{…}` as an RE2 class item (`\p{Greek}`) or a set of code points. */
  const property = (negated: boolean): { item: string } | { ranges: Ranges } => {
    const end = pattern.indexOf('}', i);
    const body = pattern.slice(i + 1, end);
    i = end + 1;
    if (negated && ignoreCase) unsupported(`\\P{${body}} with the i flag`);
    const [name, value] = body.includes('=') ? body.split('=') : [null, body];
    let re2: string | null = null;
    if (name === null) {
      if (value === 'Any') return { ranges: negated ? [] : ALL };
      if (value === 'ASCII') return { ranges: negated ? complement([[0, 0x7f]]) : [[0, 0x7f]] };
      if (SHORT_CATEGORIES.has(value)) re2 = value;
      else if (Object.hasOwn(GENERAL_CATEGORIES, value)) re2 = GENERAL_CATEGORIES[value];
    } else if (name === 'General_Category' || name === 'gc') {
      re2 = SHORT_CATEGORIES.has(value) ? value : (GENERAL_CATEGORIES[value] ?? null);
    } else if (name === 'Script' || name === 'sc') {
      // RE2 knows scripts by their long names (`Greek`, not `Grek`).
      try {
        RE2JS.compile(`\\p{${value}}`);
        if (!SHORT_CATEGORIES.has(value)) re2 = value;
      } catch {
        re2 = null;
      }
    }
    if (re2 === null) unsupported(`the Unicode property \\p{${body}}`);
    return { item: `\\${negated ? 'P' : 'p'}{${re2}}` };
  };
  /**
   * One escape after its backslash, as a code point or a set. `inClass`: `\b` is backspace and
   * `\-` a hyphen; outside, assertions and backreferences.
   */
  const escape = (inClass: boolean): number | Ranges | { item: string } | { raw: string } => {
    const c = pattern[i++];
    switch (c) {
      case 'd':
        return DIGITS;
      case 'D':
        return complement(DIGITS);
      case 'w':
        return word;
      case 'W':
        return complement(word);
      case 's':
        return JS_SPACE;
      case 'S':
        return complement(JS_SPACE);
      case 't':
        return 0x09;
      case 'n':
        return 0x0a;
      case 'v':
        return 0x0b;
      case 'f':
        return 0x0c;
      case 'r':
        return 0x0d;
      case '0':
        return 0;
      case 'c':
        return pattern.charCodeAt(i++) % 32;
      case 'x':
        return hexDigits(2);
      case 'u':
        return unicodeEscape();
      case 'p':
      case 'P': {
        const p = property(c === 'P');
        return 'item' in p ? p : p.ranges;
      }
      case 'b':
      case 'B':
        if (inClass && c === 'b') return 0x08;
        // RE2's word boundary is ASCII: with i, ECMAScript's also counts ſ and K as word characters.
        if (ignoreCase) unsupported(`\\${c} with the i flag`);
        return { raw: `\\${c}` };
      case 'k':
        return unsupported('RE2 has no backreferences');
      default:
        if (c >= '1' && c <= '9') return unsupported('RE2 has no backreferences');
        // An identity escape: a syntax character, `/`, or `-` in a class (u mode allows no other).
        i--;
        return next();
    }
  };
  /** `[…]` after its `[`, as one RE2 class. */
  const charClass = (): string => {
    const negated = pattern[i] === '^';
    if (negated) i++;
    const items: string[] = [];
    const atom = () => (pattern[i] === '\\' ? (i++, escape(true)) : next());
    while (pattern[i] !== ']') {
      const a = atom();
      if (typeof a === 'number' && pattern[i] === '-' && pattern[i + 1] !== ']') {
        i++;
        // u mode allows no class escape as a range end: both are characters.
        const b = atom() as number;
        items.push(`${hex(a)}-${hex(b)}`);
      } else if (typeof a === 'number') items.push(hex(a));
      else if (Array.isArray(a)) items.push(rangeItems(a));
      else if ('item' in a) items.push(a.item);
    }
    i++;
    const body = items.join('');
    if (!body) return negated ? rangeClass(ALL) : rangeClass([]);
    return `[${negated ? '^' : ''}${body}]`;
  };

  let out = '';
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      const e = escape(false);
      out +=
        typeof e === 'number'
          ? literal(e)
          : Array.isArray(e)
            ? rangeClass(e)
            : 'item' in e
              ? `[${e.item}]`
              : e.raw;
    } else if (c === '[') {
      i++;
      out += charClass();
    } else if (c === '(') {
      i++;
      if (pattern[i] !== '?') out += '(';
      else if (pattern[i + 1] === ':') {
        out += '(?:';
        i += 2;
      } else if (pattern[i + 1] === '=' || pattern[i + 1] === '!') unsupported('RE2 has no lookahead');
      else if (pattern[i + 1] === '<' && (pattern[i + 2] === '=' || pattern[i + 2] === '!'))
        unsupported('RE2 has no lookbehind');
      else if (pattern[i + 1] === '<') {
        // A named group: only `test` is asked for, so the name does not matter.
        i = pattern.indexOf('>', i) + 1;
        out += '(?:';
      } else unsupported('inline flag groups are not supported');
    } else if (c === '^' || c === '$') {
      // RE2's multi-line anchors stop at \n only; ECMAScript's also at \r, \u2028 and \u2029.
      if (multiline) unsupported(`'${c}' with the m flag`);
      out += c;
      i++;
    } else if (c === '.') {
      out += dotAll ? rangeClass(ALL) : rangeClass(complement(LINE_TERMINATORS));
      i++;
    } else if ('|)*+?'.includes(c)) {
      out += c;
      i++;
    } else if (c === '{') {
      // A quantifier (u mode has no literal brace): `{n}`, `{n,}`, `{n,m}`, as RE2 writes them.
      const end = pattern.indexOf('}', i);
      out += pattern.slice(i, end + 1);
      i = end + 1;
    } else out += literal(next());
  }
  // ECMAScript folds case like RE2 in u mode (Unicode simple case folding).
  return (ignoreCase ? '(?i)' : '') + (out || '(?:)');
}

/** ajv's RegExpEngine on RE2: an ECMAScript pattern with its meaning, unanchored `test` as JSON Schema means it. */
export function linearRegExp(
  pattern: string,
  flags: string,
): { test(s: string): boolean; toString(): string } {
  try {
    new RegExp(pattern, flags); // compiled, never run: no backtracking happens here
  } catch (err) {
    const reason = clip(err instanceof Error ? err.message : String(err), 120);
    throw new Error(`pattern '${clip(pattern)}' is not a valid regular expression (${reason})`);
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(translatePattern(pattern, flags));
  } catch (err) {
    // RE2 refuses what it cannot run in linear time, or in bounded memory (repeat counts over 1000).
    const reason = clip(err instanceof Error ? err.message : String(err), 120);
    throw new UnsupportedPattern(`pattern '${clip(pattern)}' cannot be checked in linear time (${reason})`);
  }
  // ajv caches compiled patterns by this string.
  const key = `/${pattern}/${flags}`;
  return { test: (s: string) => re.test(s), toString: () => key };
}

function re2RegExp() {
  return Object.assign(linearRegExp, { code: 're2js' });
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
