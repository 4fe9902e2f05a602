// `batchgw replay ID`: a new batch from a finished batch's failed lines (POST /v1/batches/{id}/replay).
import { GLOBAL_HELP, listOption, metadataOption, parseCommandLine } from '../args';
import type { GatewayBatch } from '../batch-view';
import { batchPath, callExtension, ONCE } from '../client';
import type { Command } from '../command';
import { followIfAsked, WAIT_HELP, WAIT_OPTIONS, waitIntervalOf } from './wait-options';

const OPTIONS = {
  codes: { type: 'string' },
  window: { type: 'string' },
  metadata: { type: 'string', multiple: true },
  ...WAIT_OPTIONS,
} as const;

export const replay: Command = {
  name: 'replay',
  summary: "replay a finished batch's failed lines as a new batch; prints its id",
  help: `Usage: batchgw replay BATCH_ID [--codes c1,c2] [--window W] [--metadata k=v …] [--wait]

Creates a batch from the error lines of a finished batch (same custom_id, url and body) and
prints the new batch's id.

  --codes c1,c2      only lines with these error codes, HTTP statuses or governance outcomes
                     (e.g. 500,request_timeout,batch_expired,blocked; default: every failed line)
  --window W         completion window (default: the original's)
  --metadata k=v     metadata of the new batch; repeat for more (default: the original's)
${WAIT_HELP}

${GLOBAL_HELP}`,

  async run(argv, ctx) {
    const { values, positionals } = parseCommandLine('replay', argv, OPTIONS, ['BATCH_ID']);
    const [batchId] = positionals;
    const codes = listOption(values.codes);
    const metadata = metadataOption(values.metadata, 'replay');
    const intervalMs = waitIntervalOf(values, 'replay');
    const body = {
      ...(codes ? { codes } : {}),
      ...(values.window ? { completion_window: values.window } : {}),
      ...(metadata ? { metadata } : {}),
    };
    const client = ctx.connect(values);
    const batch = await callExtension(client, batchId, 'replay', () =>
      client.post<GatewayBatch>(batchPath(batchId, '/replay'), { body, ...ONCE }),
    );
    ctx.stdout.write(`${batch.id}\n`);
    return followIfAsked(client, batch.id, intervalMs, ctx);
  },
};
