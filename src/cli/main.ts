// batchgw: the command line of the batch gateway (and of any OpenAI-compatible Batch API).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type OpenAI from 'openai';
import { GLOBAL_HELP } from './args';
import { clientOf, DEFAULT_BASE_URL } from './client';
import type { Command, CommandContext } from './command';
import { COMMANDS } from './commands';
import { ExitCode, failureOf, UsageError } from './exit-codes';

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: batchgw COMMAND [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run \`batchgw COMMAND --help\` for a command's arguments and options.

Exit codes: 0 done (a waited-for batch completed), 1 a waited-for batch failed, expired or was
cancelled, 2 usage or input error (or a 4xx answer), 3 the server unreachable or failing (5xx).

${GLOBAL_HELP}`;
}

/** From src/cli or dist/cli alike, the package.json two levels up. */
function version(): string {
  return (
    JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }
  ).version;
}

/** `--help` / `-h` before a `--` terminator. */
function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** Runs one command line; answers the exit code. Never throws: every failure is one line on stderr. */
export async function runCli(
  argv: string[],
  io: Pick<CommandContext, 'stdout' | 'stderr'> = { stdout: process.stdout, stderr: process.stderr },
): Promise<ExitCode> {
  let client: OpenAI | null = null;
  const ctx: CommandContext = {
    ...io,
    connect(options) {
      client = clientOf(options);
      return client;
    },
  };
  const [name, ...rest] = argv;
  let command: Command | undefined;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? io.stderr : io.stdout).write(`${topHelp()}\n`);
      return name === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (name === '--version' || name === '-V') {
      io.stdout.write(`${version()}\n`);
      return ExitCode.ok;
    }
    command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command '${name}'`);
    if (asksForHelp(rest)) {
      io.stdout.write(`${command.help}\n`);
      return ExitCode.ok;
    }
    return await command.run(rest, ctx);
  } catch (err) {
    const baseURL = (client as OpenAI | null)?.baseURL ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL;
    const { message, exitCode } = failureOf(err, baseURL);
    io.stderr.write(`batchgw${command ? ` ${command.name}` : ''}: ${message}\n`);
    if (process.env.BATCHGW_DEBUG && err instanceof Error) io.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}

if (require.main === module) {
  // stdout closed early (`batchgw results … | head`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
    throw err;
  });
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
