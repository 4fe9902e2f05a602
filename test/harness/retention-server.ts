import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/temporal/dev-server';
import { freePort } from './ports';

/**
 * A Temporal dev server of a test file's own on which deleting a closed workflow execution — what
 * retention does once a namespace's retention period has passed — takes effect at once rather than
 * after ~30 s (the deletion waits for the transfer queue's ack level, which moves every 100 ms
 * here). The dev server refuses retention periods below one hour, so tests delete instead.
 */
export async function startRetentionServer(): Promise<DevServer> {
  return startDevServer({
    port: await freePort(),
    uiPort: 0,
    headless: true,
    namespace: 'default',
    dynamicConfig: { 'history.transferProcessorUpdateAckInterval': '100ms' },
  });
}

/** Deletes a closed workflow execution as retention would, and waits until describe and visibility forget it. */
export async function expireWorkflow(client: Client, workflowId: string): Promise<void> {
  await client.workflowService.deleteWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId },
  });
  for (const deadline = Date.now() + 20_000; ;) {
    let described = true;
    try {
      await client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      described = false;
    }
    if (!described && (await client.workflow.count(`WorkflowId = '${workflowId}'`)).count === 0) return;
    if (Date.now() > deadline) throw new Error(`workflow ${workflowId} is still there after its deletion`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
