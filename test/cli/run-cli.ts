// Runs batchgw in tests: in this process (runCli, streams captured) or as its own OS process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../src/cli/main';

export const ROOT = resolve(__dirname, '../..');
export const CLI_SOURCE = resolve(ROOT, 'src/cli/main.ts');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A captured stream standing in for stdout / stderr (not a terminal: progress comes as plain lines). */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

/** runCli in this process, as `batchgw ARGS…` would run it. */
export async function runInProcess(argv: string[]): Promise<CliResult> {
  const out = capture();
  const err = capture();
  const code = await runCli(argv, { stdout: out.stream, stderr: err.stream });
  return { code, stdout: out.text(), stderr: err.text() };
}

export interface CliProcess {
  child: ChildProcess;
  output: () => CliResult;
  done: Promise<CliResult>;
}

/** `batchgw ARGS…` as its own process (from the TypeScript sources, through tsx). */
export function startCliProcess(argv: string[], env: Record<string, string> = {}): CliProcess {
  return startProcess(process.execPath, ['--import', 'tsx', CLI_SOURCE, ...argv], env);
}

export function startProcess(command: string, args: string[], env: Record<string, string> = {}): CliProcess {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, BATCHGW_DEBUG: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const output = () => ({ code: child.exitCode, stdout, stderr });
  const done = new Promise<CliResult>((res) => child.once('close', (code) => res({ code, stdout, stderr })));
  return { child, output, done };
}

export const runCliProcess = (argv: string[], env: Record<string, string> = {}): Promise<CliResult> =>
  startCliProcess(argv, env).done;

/** Writes JSONL lines to a file of a fresh temporary directory and answers its path. */
export function jsonlFile(lines: unknown[], name = 'requests.jsonl'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'batchgw-cli-')), name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return path;
}

/** Lines without the trailing empty one. */
export const linesOf = (text: string): string[] => text.split('\n').filter(Boolean);
