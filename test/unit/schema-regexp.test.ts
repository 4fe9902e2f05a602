// JSON Schema patterns are ECMA-262 regular expressions; the gateway runs them on RE2 (linear time).
// Each pattern here must mean on RE2 what it means to the native RegExp, on a table of strings —
// or be refused as invalid (not a JS regex) or unsupported (no exact RE2 equivalent).
import { describe, expect, it } from 'vitest';
import { compileSchema, linearRegExp, translatePattern } from '../../src/governance/schema';

/** Strings that tell ECMAScript's classes and `.` from RE2's. */
const SAMPLES = [
  '',
  'a',
  'ab',
  'a b',
  'a\tb',
  'a\nb',
  'a\rb',
  'a\vb',
  'a\fb',
  'a\u00a0b',
  'a\u1680b',
  'a\u2000b',
  'a\u2003b',
  'a\u200ab',
  'a\u200bb', // zero-width space: not \s
  'a\u2028b',
  'a\u2029b',
  'a\u202fb',
  'a\u205fb',
  'a\u3000b',
  'a\ufeffb',
  'a\u0085b', // NEL: not \s in ECMAScript
  '\b',
  'a\bb',
  '\u0008',
  'x',
  '-',
  'x-',
  '5',
  'a5_',
  'abc',
  'ABC',
  'ſ',
  'K',
  'k',
  'é',
  'Zoë',
  'ΑΒΓ',
  '中文',
  '😀',
  'a😀b',
  '\ud800',
  'a\ud800b',
  '\u0000',
  '{}',
  'a.b',
  '  ',
  '\n',
  '\r\n',
  'aaaa',
];

const PATTERNS = [
  '^\\S+$',
  '^\\s+$',
  '\\s',
  '\\S',
  '^[\\s]+$',
  '^[\\S]+$',
  '^[^\\s]+$',
  '^[^\\S]+$',
  '^[a\\S]+$',
  '^[^a\\S]$',
  '^[\\s\\d]+$',
  '^[\\S\\s]*$',
  '^.+$',
  '^.*$',
  '^a.b$',
  '^.$',
  '^..$',
  '^[^a]$',
  '[\\b]',
  '^a[\\b]b$',
  '\\bab\\b',
  '\\Bb',
  '^\\w+$',
  '^\\W+$',
  '^[\\W\\d]+$',
  '^\\d+$',
  '^\\D+$',
  '^[\\D]+$',
  '^[\\d-]+$',
  '^[a-c-]+$',
  '^[\\-x]+$',
  '^\\p{L}+$',
  '^\\P{L}+$',
  '^[\\p{Lu}\\d]+$',
  '^[^\\p{L}]+$',
  '^\\p{Letter}+$',
  '^\\p{gc=Lu}+$',
  '^\\p{Script=Greek}+$',
  '^\\p{sc=Han}+$',
  '^\\p{Any}$',
  '^\\P{ASCII}+$',
  '^\\u{1F600}$',
  '^\\uD83D\\uDE00$',
  '^\\u00e9$',
  '^\\x41\\x42\\x43$',
  '^\\cJ$',
  '^\\0$',
  '^\\t|\\n$',
  '^[]$',
  '^[^]$',
  '^(?<word>a+)$',
  '^(?:ab|a)+$',
  '^a{2,3}$',
  '^a{2,}?$',
  '^\\{\\}$',
  '^\\.\\*\\+\\?\\(\\)\\[\\]\\|\\/\\^\\$$',
  '^a.b$|^$',
  'é|😀',
  '',
];

const native = (pattern: string, flags: string) => new RegExp(pattern, flags);

describe('patterns on RE2 mean what ECMAScript means', () => {
  it.each(PATTERNS)('%s (u flag, as ajv passes it)', (pattern) => {
    const re2 = linearRegExp(pattern, 'u');
    const js = native(pattern, 'u');
    const differ = SAMPLES.filter((s) => re2.test(s) !== js.test(s)).map((s) => JSON.stringify(s));
    expect(differ).toEqual([]);
  });

  it.each(['^.+$', '^a.b$', '^[^a]$', '^\\S+$', '^\\w+$', '^ab?c$', '^[a-c]+$', '^\\p{Lu}$'])(
    '%s with the s and i flags',
    (pattern) => {
      for (const flags of ['su', 'iu', 'isu']) {
        const re2 = linearRegExp(pattern, flags);
        const js = native(pattern, flags);
        const differ = SAMPLES.filter((s) => re2.test(s) !== js.test(s)).map((s) => JSON.stringify(s));
        expect([flags, differ]).toEqual([flags, []]);
      }
    },
  );

  it('gives \\s and \\S exactly ECMAScript sets over every code point', () => {
    for (const pattern of ['^\\s$', '^\\S$', '^[^\\s]$', '^[x\\S]$', '^.$', '^\\W$']) {
      const re2 = linearRegExp(pattern, 'u');
      const js = native(pattern, 'u');
      for (let cp = 0; cp <= 0x10ffff; cp += cp < 0x3100 || (cp >= 0xfe00 && cp <= 0xffff) ? 1 : 97) {
        const s = String.fromCodePoint(cp);
        if (re2.test(s) !== js.test(s)) throw new Error(`${pattern} differs on U+${cp.toString(16)}`);
      }
    }
  });

  it.each([
    ['(?i)abc', 'an RE2/PCRE inline flag'],
    ['[\\d-x]', 'a class escape as a range end'],
    ['a{', 'a lone brace (u mode)'],
    ['\\q', 'an unknown identity escape (u mode)'],
    ['(', 'an unclosed group'],
    ['\\p{Grek}', 'a script without Script='],
  ])('refuses %s as invalid (%s)', (pattern) => {
    expect(() => linearRegExp(pattern, 'u')).toThrow(/is not a valid regular expression/);
    const compiled = compileSchema(JSON.stringify({ type: 'string', pattern }));
    expect(compiled.ok || compiled.unsupported).toBe(false);
  });

  it.each([
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /backreferences/],
    ['^(?=a)a$', /lookahead/],
    ['(?<!x)y', /lookbehind/],
    ['a{1001}', /repeat count/],
    ['\\p{Script_Extensions=Greek}', /Unicode property/],
    ['\\p{sc=Grek}', /Unicode property/],
    ['\\p{Emoji}', /Unicode property/],
  ])('marks %s unsupported, saying why', (pattern, why) => {
    const compiled = compileSchema(JSON.stringify({ type: 'string', pattern }));
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.unsupported).toBe(true);
    expect(compiled.error).toMatch(/cannot be checked in linear time/);
    expect(compiled.error).toMatch(why);
  });

  it('applies the ECMAScript meaning through ajv, in pattern and patternProperties', () => {
    const compiled = compileSchema(
      JSON.stringify({
        type: 'object',
        properties: {
          token: { type: 'string', pattern: '^\\S+$' },
          line: { type: 'string', pattern: '^.+$' },
        },
        patternProperties: { '^k\\s': { type: 'integer' } },
      }),
    );
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.check({ token: 'ab', line: 'one line', 'k\u3000': 1 })).toBeNull();
    expect(compiled.check({ token: 'a\u00a0b', line: 'a\rb', 'k\u3000': 'x' })).toEqual([
      'content/token must match pattern "^\\S+$"',
      'content/line must match pattern "^.+$"',
      'content/k\u3000 must be integer',
    ]);
  });

  it('checks [\\b] as a backspace, not as something RE2 cannot run', () => {
    const compiled = compileSchema(JSON.stringify({ type: 'string', pattern: '^a[\\b]b$' }));
    if (!compiled.ok) throw new Error(compiled.error);
    expect(compiled.check('a\bb')).toBeNull();
    expect(compiled.check('a b')).not.toBeNull();
  });

  it('honours the flags ajv gives, refusing what it cannot translate exactly', () => {
    expect(linearRegExp('^ABC$', 'iu').test('abc')).toBe(true);
    expect(linearRegExp('^ABC$', 'u').test('abc')).toBe(false);
    expect(linearRegExp('^a.b$', 'su').test('a\u2028b')).toBe(true);
    expect(() => linearRegExp('^a$', 'mu')).toThrow(/cannot be checked.*m flag/);
    expect(linearRegExp('a', 'mu').test('xa')).toBe(true); // no anchor: m changes nothing
    expect(() => linearRegExp('\\bk', 'iu')).toThrow(/cannot be checked.*i flag/);
    expect(() => linearRegExp('^.$', '')).toThrow(/cannot be checked.*u flag/);
    expect(() => linearRegExp('a', 'gu')).toThrow(/cannot be checked.*flag 'g'/);
    expect(() => linearRegExp('a', 'u!')).toThrow(/is not a valid regular expression/);
  });

  it('keeps RE2 syntax out of literals (every non-alphanumeric character is escaped)', () => {
    expect(translatePattern('a b#c', 'u')).toBe('a\\x{20}b\\x{23}c');
    expect(() => linearRegExp('^\\Q$', 'u')).toThrow(/is not a valid regular expression/); // RE2 would quote
  });

  it('runs ^(a+)+$ over 10,000 characters in linear time, with the translated classes too', () => {
    const started = performance.now();
    for (const [pattern, miss] of [
      ['^(a+)+$', 'b'],
      ['^(\\S+)+$', '\u00a0'],
      ['^(.+)+$', '\u2028'],
      ['^([^\\s]*)*$', '\u3000'],
    ]) {
      const re = linearRegExp(pattern, 'u');
      expect(re.test('a'.repeat(10_000) + miss)).toBe(false);
      expect(re.test('a'.repeat(10_000))).toBe(true);
    }
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
