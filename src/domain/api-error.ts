import { z, type ZodError } from 'zod';
import { clip } from './clip';

export const API_ERROR_TYPES = [
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'conflict_error',
  'rate_limit_error',
  'server_error',
] as const;
export type ApiErrorType = (typeof API_ERROR_TYPES)[number];

/** The body of every error answer, OpenAI's shape: what `ApiError.toBody()` writes. */
export const ApiErrorBody = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.enum(API_ERROR_TYPES),
      param: z.string().nullable().describe('The request parameter at fault, when one is.'),
      code: z.string().nullable().describe('A machine-readable reason, e.g. `batch_not_cancellable`.'),
    }),
  })
  .describe("An error, in OpenAI's shape.");
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;

/** An error our HTTP API answers with, in OpenAI's `{error:{message,type,param,code}}` shape. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly type: ApiErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toBody(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, 'not_found_error', `No such ${what}: '${id}'`, 'id', null);
  }

  static invalid(
    message: string,
    param: string | null = null,
    code: string | null = 'invalid_value',
  ): ApiError {
    return new ApiError(400, 'invalid_request_error', message, param, code);
  }

  /** Maps the first zod issue to an OpenAI-style 400 naming the offending parameter. */
  static fromZod(error: ZodError, prefix = ''): ApiError {
    const issue = error.issues[0];
    // The body itself is of the wrong type (an array, a string, a number): nothing to name.
    if (issue.path.length === 0 && !prefix)
      return new ApiError(
        400,
        'invalid_request_error',
        'The request body must be a JSON object.',
        null,
        'invalid_type',
      );
    // Paths carry user keys (metadata, x_* options): clipped, like every user string we quote.
    const path = issue.path.map((p) => clip(String(p)));
    const param = clip(prefix + (path.length ? path.join('.') : ''), 256) || null;
    let code = 'invalid_value';
    // zod 4 keeps `input` on an issue only when parsed with { reportInput: true }; without it a
    // wrong type (e.g. metadata {k: 1}) would read as missing, so absent `input` means "present but wrong".
    if (issue.code === 'invalid_type')
      code = 'input' in issue && issue.input === undefined ? 'missing_required_parameter' : 'invalid_type';
    const message =
      code === 'missing_required_parameter'
        ? `Missing required parameter: '${param}'.`
        : `Invalid value for '${param}': ${clip(issue.message, 256)}.`;
    return new ApiError(400, 'invalid_request_error', message, param, code);
  }
}
