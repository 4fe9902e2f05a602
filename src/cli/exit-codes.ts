// What the CLI's exit codes mean, and how any error becomes one line on stderr and one of them.
import OpenAI from 'openai';

/** Scripts branch on these; README "Command line" lists them. */
export const ExitCode = {
  /** The command did what it was asked; a waited-for batch ended `completed`. */
  ok: 0,
  /** A waited-for batch ended `failed`, `expired` or `cancelled`. */
  batchUnsuccessful: 1,
  /** Usage or input error: unknown command or flag, missing file, a 4xx answer from the API. */
  usage: 2,
  /** The server could not be reached, timed out or answered 5xx. */
  unreachable: 3,
  /** Interrupted (Ctrl-C), as shells report SIGINT. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error whose message is already the line the user should read. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.usage,
  ) {
    super(message);
  }
}

/** A bad command line: exit 2, with a pointer to `--help`. */
export class UsageError extends CliError {
  constructor(message: string, command?: string) {
    super(`${message} (see: batchgw ${command ? `${command} ` : ''}--help)`, ExitCode.usage);
  }
}

export interface Failure {
  message: string;
  exitCode: ExitCode;
}

/** Maps any thrown value to the one line printed (without the `batchgw:` prefix) and the exit code. */
export function failureOf(err: unknown, baseURL: string): Failure {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return { message: `timed out waiting for ${baseURL}`, exitCode: ExitCode.unreachable };
  if (err instanceof OpenAI.APIConnectionError)
    return { message: `cannot reach ${baseURL}: ${causeOf(err)}`, exitCode: ExitCode.unreachable };
  if (err instanceof OpenAI.APIError) {
    const code = err.code ? ` (${err.code})` : '';
    const hint = err.status === 401 ? ' — set OPENAI_API_KEY or pass --api-key' : '';
    const message = `${oneLine(err.message)}${code}${hint}`;
    const status = err.status ?? 0;
    return { message, exitCode: status >= 400 && status < 500 ? ExitCode.usage : ExitCode.unreachable };
  }
  // The openai client's own checks (e.g. a malformed base URL) are usage errors too.
  if (err instanceof OpenAI.OpenAIError) return { message: oneLine(err.message), exitCode: ExitCode.usage };
  const message = err instanceof Error ? err.message : String(err);
  return { message: `unexpected error: ${oneLine(message)}`, exitCode: ExitCode.unreachable };
}

/** The innermost cause with a system error code (ECONNREFUSED, ENOTFOUND…), else its message. */
function causeOf(err: Error): string {
  let cause: unknown = err.cause;
  let last = err.message;
  for (let depth = 0; cause instanceof Error && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') return code === 'ECONNREFUSED' ? 'connection refused' : code;
    last = cause.message;
    cause = cause.cause;
  }
  return oneLine(last);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
