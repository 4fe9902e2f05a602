// Saves the workflow histories of one batch (the parent and its per-model children) as JSON
// fixtures for the replay test. Usage: tsx scripts/record-histories.ts <batch_id> <out-dir>
// Re-record only when a workflow change is meant to be incompatible (and then version it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

async function main() {
  const [batchId, outDir] = process.argv.slice(2);
  if (!batchId || !outDir) throw new Error('usage: record-histories.ts <batch_id> <out-dir>');
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  mkdirSync(outDir, { recursive: true });
  const ids = [batchId];
  for await (const wf of client.workflow.list({ query: `WorkflowId STARTS_WITH '${batchId}-model-'` }))
    ids.push(wf.workflowId);
  for (const id of new Set(ids)) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const file = join(
      outDir,
      `${id.startsWith(`${batchId}-`) ? id.slice(batchId.length + 1) : 'batch'}.history.json`,
    );
    writeFileSync(file, historyToJSON(history));
    console.log(`${id} → ${file} (${history.events?.length} events)`);
  }
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
