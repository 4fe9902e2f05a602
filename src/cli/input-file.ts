// The JSONL file given to `submit`: that it can be read, and the endpoint its first line names.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CliError } from './exit-codes';

/** A readable regular file, or a CliError (exit 2) that says why not. */
export async function checkReadableFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT' ? `no such file: ${path}` : `cannot read ${path}: ${code ?? String(err)}`,
    );
  }
  if (!info.isFile()) throw new CliError(`not a file: ${path}`);
}

/** The `url` of the first non-blank line (`/v1/chat/completions`), or null when it has none. */
export async function endpointOfFirstLine(path: string): Promise<string | null> {
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (!line.trim()) continue;
      try {
        const url = (JSON.parse(line) as { url?: unknown } | null)?.url;
        return typeof url === 'string' ? url : null;
      } catch {
        return null;
      }
    }
    return null;
  } finally {
    lines.close();
  }
}
