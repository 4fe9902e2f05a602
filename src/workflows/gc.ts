import { proxyActivities } from '@temporalio/workflow';
import type { BatchActivities } from '../activities';
import type { GcInput, GcSummary } from '../activities/collect-garbage';

// Garbage collection, started by the `<task queue>-gc` Temporal Schedule (temporal/gc-schedule.ts).
// Deterministic and without I/O: the activity does the work and logs its summary line.

const { collectGarbage } = proxyActivities<BatchActivities>({
  startToCloseTimeout: '2 hours',
  // Listing a large bucket is one call without heartbeats; everything after it heartbeats often.
  heartbeatTimeout: '10 minutes',
  // A run is idempotent (it lists again); the next scheduled run catches up on anything left.
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 3 },
});

/** One garbage collection run over the whole store; returns what it removed (or would, in a dry run). */
export async function gcWorkflow(input: GcInput = { dryRun: false }): Promise<GcSummary> {
  return await collectGarbage(input);
}
