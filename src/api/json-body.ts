// The JSON body parser of our API: Fastify's own (prototype-poisoning checks included), except
// that an empty body is no body — the official clients send `content-type: application/json`
// with nothing after it on cancel and delete — and that nesting is bounded before parsing, so no
// later recursion (zod, ajv, a JSON.stringify) can overflow the stack on a hostile body.
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../domain/api-error';
import { exceedsJsonDepth } from '../domain/json-depth';

/** Deepest `{`/`[` nesting a request body may have; JSON schemas in `x_output_schema` need far less. */
export const MAX_BODY_DEPTH = 64;

export function registerJsonBodyParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (/^\s*$/.test(text)) return done(null, undefined);
    if (exceedsJsonDepth(text, MAX_BODY_DEPTH)) {
      return done(
        ApiError.invalid(
          `The request body nests objects and arrays deeper than ${MAX_BODY_DEPTH} levels.`,
          null,
          'invalid_json',
        ),
        undefined,
      );
    }
    void parseJson(req, text, (err, parsed) => {
      // Valid JSON refused all the same is a poisoning key: say which, rather than "not valid JSON".
      if (err && isJson(text)) {
        return done(
          ApiError.invalid(
            "The request body has a key named '__proto__' (or 'constructor' holding 'prototype'), which this API does not accept.",
            null,
            'invalid_json',
          ),
          undefined,
        );
      }
      done(err, parsed);
    });
  });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
