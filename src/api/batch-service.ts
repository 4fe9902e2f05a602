import {
  Client,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowExecutionDescription,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { Batch } from '../domain/batch';
import { Batch as BatchSchema } from '../domain/batch';
import { isTerminal, newBatch, type BatchOptions } from '../domain/batch-state';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import { listReplays } from '../storage/replay-links';
import {
  BATCH_CREATED_AT_SA,
  BATCH_STATUS_SA,
  BATCH_TENANT_SA,
  BATCH_WORKFLOW_TYPE,
  cancelUpdate,
  getBatchQuery,
} from '../workflows/definitions';
import type { BatchWorkflowInput } from '../workflows/types';

export type CancelResult =
  { kind: 'ok'; batch: Batch } | { kind: 'not_found' } | { kind: 'conflict'; batch: Batch };

/** The API's view of batches: starts, reads, lists and cancels batch workflows through Temporal. */
export class BatchService {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly store: ObjectStore,
  ) {}

  async start(input: BatchWorkflowInput): Promise<Batch> {
    await this.client.workflow.start(BATCH_WORKFLOW_TYPE, {
      workflowId: input.batchId,
      taskQueue: this.taskQueue,
      args: [input],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: BATCH_STATUS_SA, value: 'validating' },
        { key: BATCH_TENANT_SA, value: input.tenant },
        { key: BATCH_CREATED_AT_SA, value: input.createdAt },
      ]),
      // `options` (references and small values only) lets a dead-letter replay reuse them.
      memo: { batch: newBatch(input), options: input.options ?? null },
    });
    return newBatch(input);
  }

  /** The live Batch: queried while running, the workflow's result once closed, the stored snapshot after retention. */
  async get(tenant: string, id: string): Promise<Batch | null> {
    if (!/^batch_[A-Za-z0-9]+$/.test(id)) return null;
    const handle = this.client.workflow.getHandle(id);
    let desc: WorkflowExecutionDescription;
    try {
      desc = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        const stored = await this.snapshot(tenant, id);
        return stored && this.withReplays(tenant, stored);
      }
      throw err;
    }
    if (!this.owns(desc, tenant)) return null;
    return this.withReplays(tenant, await this.fromDescription(desc));
  }

  /** The governance options a batch was created with; null when unknown (e.g. past retention). */
  async creationOptions(tenant: string, id: string): Promise<BatchOptions | null> {
    try {
      const desc = await this.client.workflow.getHandle(id).describe();
      if (!this.owns(desc, tenant)) return null;
      return (desc.memo as { options?: BatchOptions | null } | undefined)?.options ?? null;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    }
  }

  async cancel(tenant: string, id: string): Promise<CancelResult> {
    const current = await this.get(tenant, id);
    if (!current) return { kind: 'not_found' };
    if (current.status === 'cancelled' || current.status === 'cancelling')
      return { kind: 'ok', batch: current };
    if (current.status === 'completed' || current.status === 'failed' || current.status === 'expired') {
      return { kind: 'conflict', batch: current };
    }
    try {
      const batch = await this.client.workflow.getHandle(id).executeUpdate(cancelUpdate);
      return batch.status === 'cancelling' || batch.status === 'cancelled'
        ? { kind: 'ok', batch }
        : { kind: 'conflict', batch };
    } catch (err) {
      // The batch closed between our read and the update: answer from its final state.
      if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) {
        const after = await this.get(tenant, id);
        if (!after) return { kind: 'not_found' };
        return after.status === 'cancelled'
          ? { kind: 'ok', batch: after }
          : { kind: 'conflict', batch: after };
      }
      throw err;
    }
  }

  /**
   * Newest first with OpenAI's `after` cursor. Temporal's SQL visibility cannot ORDER BY, so we
   * look back through growing windows of BatchCreatedAt until a page is full, then sort.
   */
  async list(
    tenant: string,
    opts: { after?: string; limit: number },
  ): Promise<{ data: Batch[]; hasMore: boolean }> {
    let hi = Number.MAX_SAFE_INTEGER;
    let afterId: string | null = null;
    if (opts.after) {
      const cursor = await this.get(tenant, opts.after);
      if (!cursor) return { data: [], hasMore: false };
      hi = cursor.created_at;
      afterId = cursor.id;
    }
    const upper = Math.min(hi, Math.floor(Date.now() / 1000) + 60);
    const matches = (d: { id: string; createdAt: number }) =>
      afterId === null || d.createdAt < hi || (d.createdAt === hi && d.id < afterId);
    let span = 3600;
    let found: { id: string; createdAt: number; desc: Omit<WorkflowExecutionInfo, 'raw'> }[] = [];
    for (;;) {
      const lo = Math.max(0, upper - span);
      found = [];
      const query =
        `WorkflowType = '${BATCH_WORKFLOW_TYPE}' AND BatchTenant = '${escapeQuery(tenant)}' ` +
        `AND BatchCreatedAt >= ${lo} AND BatchCreatedAt <= ${hi === Number.MAX_SAFE_INTEGER ? upper : hi}`;
      for await (const wf of this.client.workflow.list({ query })) {
        const createdAt = wf.typedSearchAttributes.get(BATCH_CREATED_AT_SA) ?? 0;
        const item = { id: wf.workflowId, createdAt, desc: wf };
        if (matches(item)) found.push(item);
      }
      if (found.length > opts.limit || lo === 0) break;
      span *= 8;
    }
    found.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    const page = found.slice(0, opts.limit);
    const data = await Promise.all(
      page.map(async (f) => this.withReplays(tenant, await this.fromDescription(f.desc))),
    );
    return { data, hasMore: found.length > opts.limit };
  }

  async healthy(): Promise<boolean> {
    try {
      // A short deadline: a health probe must answer quickly, not wait out the client's retries.
      await this.client.connection.withDeadline(Date.now() + 2000, () =>
        this.client.workflowService.getSystemInfo({}),
      );
      return true;
    } catch {
      return false;
    }
  }

  private owns(
    desc: { typedSearchAttributes: TypedSearchAttributes; type: string },
    tenant: string,
  ): boolean {
    return desc.type === BATCH_WORKFLOW_TYPE && desc.typedSearchAttributes.get(BATCH_TENANT_SA) === tenant;
  }

  private async fromDescription(desc: Omit<WorkflowExecutionInfo, 'raw'>): Promise<Batch> {
    const handle = this.client.workflow.getHandle(desc.workflowId, desc.runId);
    const initial = BatchSchema.parse((desc.memo as { batch?: unknown } | undefined)?.batch);
    switch (desc.status.name) {
      case 'RUNNING':
        return handle.query(getBatchQuery);
      case 'COMPLETED':
        return (await handle.result()) as Batch;
      default: {
        // Terminated or timed out from outside: the batch is failed (or cancelled), never lost from view.
        const closedAt = Math.floor((desc.closeTime ?? new Date()).getTime() / 1000);
        const stored = await this.snapshot(tenantOf(desc), desc.workflowId);
        if (stored) return stored;
        const cancelled = desc.status.name === 'CANCELLED';
        return {
          ...initial,
          status: cancelled ? 'cancelled' : 'failed',
          ...(cancelled ? { cancelled_at: closedAt } : { failed_at: closedAt }),
          errors: cancelled
            ? null
            : {
                object: 'list',
                data: [
                  {
                    code: 'internal_error',
                    message: `batch workflow ${desc.status.name.toLowerCase()}`,
                    param: null,
                    line: null,
                  },
                ],
              },
        };
      }
    }
  }

  /**
   * The workflow's Batch always has `x_replays: []`: replays are created after it ends, so their
   * links live in storage. Only a terminal batch can have any, which spares running ones the read.
   */
  private async withReplays(tenant: string, batch: Batch): Promise<Batch> {
    if (!isTerminal(batch.status)) return batch;
    const replays = await listReplays(this.store, tenant, batch.id);
    return replays.length > 0 ? { ...batch, x_replays: replays } : batch;
  }

  private async snapshot(tenant: string, id: string): Promise<Batch | null> {
    const raw = await this.store.get(layout.snapshot(tenant, id));
    return raw ? BatchSchema.parse(JSON.parse(raw.toString('utf8'))) : null;
  }
}

function tenantOf(desc: { typedSearchAttributes: TypedSearchAttributes }): string {
  return desc.typedSearchAttributes.get(BATCH_TENANT_SA) ?? '';
}

/** Visibility queries take string literals in single quotes. */
const escapeQuery = (s: string): string => s.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
