// What every subcommand is: a name, its help, and a run that answers an exit code.
import type OpenAI from 'openai';
import type { ConnectionOptions } from './client';
import type { ExitCode } from './exit-codes';

export interface CommandContext {
  /** The openai client for these flags (remembered, so an error can name its base URL). */
  connect(options: ConnectionOptions): OpenAI;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

export interface Command {
  name: string;
  /** One line for `batchgw --help`. */
  summary: string;
  /** `batchgw NAME --help`: usage line, what it does, its options. */
  help: string;
  run(argv: string[], ctx: CommandContext): Promise<ExitCode>;
}
