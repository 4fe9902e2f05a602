// `batchgw download ID`: the batch's output and error files, written to a directory.
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type OpenAI from 'openai';
import { GLOBAL_HELP, parseCommandLine } from '../args';
import type { Command } from '../command';
import { CliError, ExitCode } from '../exit-codes';

const OPTIONS = { out: { type: 'string', default: '.' } } as const;

export const download: Command = {
  name: 'download',
  summary: "write a batch's output and error files to a directory",
  help: `Usage: batchgw download BATCH_ID [--out DIR]

Writes BATCH_ID_output.jsonl and BATCH_ID_error.jsonl (those the batch has) and prints their paths.

  --out DIR          the directory (created if missing; default: the current one)

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('download', argv, OPTIONS, ['BATCH_ID']);
    const client = ctx.connect(values);
    const batch = await client.batches.retrieve(positionals[0]);
    const files = [
      { id: batch.output_file_id, name: `${batch.id}_output.jsonl` },
      { id: batch.error_file_id, name: `${batch.id}_error.jsonl` },
    ].filter((f): f is { id: string; name: string } => Boolean(f.id));
    if (!files.length)
      throw new CliError(`${batch.id} has no output or error file yet (status ${batch.status})`);
    await mkdir(values.out, { recursive: true });
    for (const file of files) {
      const path = join(values.out, file.name);
      await saveFile(client, file.id, path);
      ctx.stdout.write(`${path}\n`);
    }
    return ExitCode.ok;
  },
};

/** Streams a file's content to `path` through a temporary name: never a half-written file under it. */
async function saveFile(client: OpenAI, fileId: string, path: string): Promise<void> {
  const response = await client.files.content(fileId);
  if (!response.body) throw new CliError(`file ${fileId} answered no content`, ExitCode.unreachable);
  const partial = `${path}.partial`;
  try {
    await pipeline(Readable.fromWeb(response.body), createWriteStream(partial));
    await rename(partial, path);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
