// `batchgw submit FILE.jsonl`: upload the file (purpose batch), create the batch, print its id.
import { createReadStream } from 'node:fs';
import type OpenAI from 'openai';
import { GLOBAL_HELP, metadataOption, parseCommandLine } from '../args';
import type { Command } from '../command';
import { CliError } from '../exit-codes';
import { checkReadableFile, endpointOfFirstLine } from '../input-file';
import { followIfAsked, WAIT_HELP, WAIT_OPTIONS, waitIntervalOf } from './wait-options';

const OPTIONS = {
  endpoint: { type: 'string' },
  window: { type: 'string', default: '24h' },
  metadata: { type: 'string', multiple: true },
  ...WAIT_OPTIONS,
} as const;

export const submit: Command = {
  name: 'submit',
  summary: 'upload a JSONL file and create a batch from it; prints the batch id',
  help: `Usage: batchgw submit FILE.jsonl [--endpoint E] [--window 24h] [--metadata k=v …] [--wait]

Uploads FILE.jsonl (purpose "batch"), creates a batch from it and prints the batch id.

  --endpoint E       /v1/chat/completions, /v1/embeddings, … (default: the first line's "url")
  --window W         completion window (default 24h)
  --metadata k=v     a metadata pair; repeat for more (at most 16)
${WAIT_HELP}

Exit: 0 created (with --wait: completed), 1 with --wait: failed, expired or cancelled, 2 bad input.

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('submit', argv, OPTIONS, ['FILE.jsonl']);
    const [path] = positionals;
    const metadata = metadataOption(values.metadata, 'submit');
    const intervalMs = waitIntervalOf(values, 'submit');
    await checkReadableFile(path);
    const endpoint = values.endpoint ?? (await endpointOfFirstLine(path));
    if (!endpoint) throw new CliError(`the first line of ${path} names no "url": pass --endpoint`);
    const client = ctx.connect(values);
    const file = await client.files.create({ file: createReadStream(path), purpose: 'batch' });
    const batch = await client.batches.create({
      input_file_id: file.id,
      // The server checks these: any OpenAI-compatible one may accept more than the SDK's types list.
      endpoint: endpoint as OpenAI.Batches.BatchCreateParams['endpoint'],
      completion_window: values.window as OpenAI.Batches.BatchCreateParams['completion_window'],
      ...(metadata ? { metadata } : {}),
    });
    ctx.stdout.write(`${batch.id}\n`);
    return followIfAsked(client, batch.id, intervalMs, ctx);
  },
};
