// The webhook delivery of a batch, as the detached child workflow `<batch id>-webhook`.
import type { Client, WorkflowHandle } from '@temporalio/client';

/**
 * The delivery's handle once it exists: the batch's terminal status is in its memo (what
 * `batches.retrieve` reads) a workflow task before the delivery child starts, so a test that saw
 * the status must wait for the child before it asks for its result.
 */
export async function webhookDelivery(
  client: Client,
  batchId: string,
  timeoutMs = 10_000,
): Promise<WorkflowHandle> {
  const handle = client.workflow.getHandle(`${batchId}-webhook`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await handle.describe();
      return handle;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
