// The JSON body parser of our API: Fastify's own (prototype-poisoning checks included), except
// that an empty body is no body — the official clients send `content-type: application/json`
// with nothing after it on cancel and delete — and that nesting is bounded before parsing, so no
// later recursion (zod, ajv, a JSON.stringify) can overflow the stack on a hostile body.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../domain/api-error';

/** Deepest `{`/`[` nesting a request body may have; JSON schemas in `x_output_schema` need far less. */
export const MAX_BODY_DEPTH = 64;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** True when `text` nests objects and arrays deeper than `max` (strings skipped; linear, no allocation). */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (/^\s*$/.test(text)) return done(null, undefined);
    if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
      return done(
        ApiError.invalid(
          `The request body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels.`,
          null,
          'invalid_json',
        ),
        undefined,
      );
    }
    void parseJson(req, text, done);
  });
}
