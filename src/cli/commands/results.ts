// `batchgw results ID`: the result lines finished so far, streamed to stdout (GET /v1/batches/{id}/results).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GLOBAL_HELP, parseCommandLine } from '../args';
import { batchPath, callExtension } from '../client';
import type { Command } from '../command';
import { ExitCode, UsageError } from '../exit-codes';

const OPTIONS = { kind: { type: 'string' } } as const;
const KINDS = ['output', 'error'];

export const results: Command = {
  name: 'results',
  summary: 'stream the result lines finished so far (while the batch runs, and after)',
  help: `Usage: batchgw results BATCH_ID [--kind output|error]

Prints the finished result lines (JSONL, the output and error file line format) to stdout.

  --kind K           only output lines or only error lines (default: both)

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('results', argv, OPTIONS, ['BATCH_ID']);
    const [batchId] = positionals;
    if (values.kind !== undefined && !KINDS.includes(values.kind))
      throw new UsageError(`--kind must be output or error, not '${values.kind}'`, 'results');
    const client = ctx.connect(values);
    const response = await callExtension(client, batchId, 'results', () =>
      client
        .get(batchPath(batchId, '/results'), { query: values.kind ? { kind: values.kind } : {} })
        .asResponse(),
    );
    if (response.body) await pipeline(Readable.fromWeb(response.body), ctx.stdout, { end: false });
    const status = response.headers.get('x-batch-status');
    // A note for a person at a terminal; scripts read stdout only.
    if (status && ctx.stderr.isTTY) ctx.stderr.write(`batch status at read time: ${status}\n`);
    return ExitCode.ok;
  },
};
