// Saves the workflow histories of one batch (the parent, its per-model children, its webhook delivery) as JSON
// fixtures for the replay test. Usage: tsx scripts/record-histories.ts <batch_id> <out-dir>
// Re-record only when a workflow change is meant to be incompatible (and then version it).
// scripts/record-scenarios.ts records every path at once.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

/**
 * Writes the history of every run of the batch's workflows (parent and children) into `outDir`.
 * The parent runs under the batch id, or under `parentId` when started from Temporal.
 */
export async function recordBatchHistories(
  client: Client,
  batchId: string,
  outDir: string,
  parentId = batchId,
): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const runs: { id: string; runId: string }[] = [];
  const query = `WorkflowId = '${parentId}' OR WorkflowId STARTS_WITH '${batchId}-model-' OR WorkflowId = '${batchId}-webhook'`;
  for await (const wf of client.workflow.list({ query })) runs.push({ id: wf.workflowId, runId: wf.runId });
  // Oldest run first, so a child's runs are numbered in the order they ran.
  runs.reverse();
  const seen = new Map<string, number>();
  for (const { id, runId } of runs) {
    const history = await client.workflow.getHandle(id, runId).fetchHistory();
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    const name = id.startsWith(`${batchId}-`) ? id.slice(batchId.length + 1) : 'batch';
    const file = join(outDir, `${name}${n > 1 ? `.run-${n}` : ''}.history.json`);
    writeFileSync(file, historyToJSON(history));
    console.log(`${id} (${runId}) → ${file} (${history.events?.length} events)`);
  }
}

async function main() {
  const [batchId, outDir] = process.argv.slice(2);
  if (!batchId || !outDir) throw new Error('usage: record-histories.ts <batch_id> <out-dir>');
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });
  await recordBatchHistories(client, batchId, outDir);
  await connection.close();
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
