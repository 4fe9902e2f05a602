import type { Batch } from '../domain/batch';
import { layout } from '../storage/layout';
import type {
  ChunkInput,
  Counts,
  FinalizeInput,
  FinalizeResult,
  IngestInput,
  IngestResult,
  PrepareInput,
  PreparedBatch,
} from '../workflows/types';
import { collectGarbage, type GcInput, type GcSummary } from './collect-garbage';
import { finalize } from './finalize';
import { ingest } from './ingest/ingest';
import { prepareBatch } from './prepare-batch';
import { processChunk } from './chunk/process-chunk';
import type { ActivityRuntime } from './runtime';
import type { WebhookDeliveryInput } from '../webhooks/event';
import { deliverWebhook, type WebhookDeliveryResult } from '../webhooks/deliver';

/** The activities of one worker process, bound to its shared runtime (storage, gateway, limits). */
export function createActivities(rt: ActivityRuntime) {
  return {
    prepareBatch: (input: PrepareInput): Promise<PreparedBatch> => prepareBatch(rt, input),
    ingest: (input: IngestInput): Promise<IngestResult> => ingest(rt, input),
    processChunk: (input: ChunkInput): Promise<Counts> => processChunk(rt, input),
    finalize: (input: FinalizeInput): Promise<FinalizeResult> => finalize(rt, input),
    collectGarbage: (input: GcInput): Promise<GcSummary> => collectGarbage(rt, input),
    /** One attempt to deliver a batch event to its webhook (src/webhooks/deliver.ts). */
    deliverWebhook: (input: WebhookDeliveryInput): Promise<WebhookDeliveryResult> =>
      deliverWebhook(rt, input),
    /** The final Batch, kept in storage for reads after the workflow is past retention. */
    saveSnapshot: async (tenant: string, batch: Batch): Promise<void> => {
      await rt.store.put(layout.snapshot(tenant, batch.id), JSON.stringify(batch));
    },
  };
}

export type BatchActivities = ReturnType<typeof createActivities>;
