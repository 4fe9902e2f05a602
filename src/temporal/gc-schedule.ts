import {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type ScheduleDescription,
  type ScheduleHandle,
} from '@temporalio/client';
import type { Config } from '../config';
import { temporalConnectionOptions } from './connection';
import type { gcWorkflow } from '../workflows/gc';

export const GC_WORKFLOW_TYPE = 'gcWorkflow';

export interface GcScheduleOptions {
  taskQueue: string;
  enabled: boolean;
  intervalSeconds: number;
  dryRun: boolean;
}

export const gcScheduleOptions = (config: Config): GcScheduleOptions => ({
  taskQueue: config.TEMPORAL_TASK_QUEUE,
  enabled: config.GC_ENABLED,
  intervalSeconds: config.GC_INTERVAL,
  dryRun: config.GC_DRY_RUN,
});

/** One schedule per task queue: `batch-gateway-gc` for the default one. */
export const gcScheduleId = (taskQueue: string): string => `${taskQueue}-gc`;

export type GcScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'removed' | 'absent';

/**
 * Makes the garbage collection schedule match this worker's settings, idempotently (every worker
 * calls it at start): creates it, updates its interval or action when they differ (keeping its
 * paused state and note), or — with GC_ENABLED=false — deletes it. Runs never overlap (SKIP); after
 * an outage at most one missed run is taken. Workers should share the GC settings: the last one to
 * start wins.
 */
export async function ensureGcSchedule(
  client: Client,
  opts: GcScheduleOptions,
): Promise<{ handle: ScheduleHandle; outcome: GcScheduleOutcome }> {
  const scheduleId = gcScheduleId(opts.taskQueue);
  const handle = client.schedule.getHandle(scheduleId);
  if (!opts.enabled) {
    try {
      await handle.delete();
      return { handle, outcome: 'removed' };
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) return { handle, outcome: 'absent' };
      throw err;
    }
  }
  const every = opts.intervalSeconds * 1000;
  const wanted = {
    spec: { intervals: [{ every }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: GC_WORKFLOW_TYPE,
      // The server appends the scheduled time: `batch-gateway-gc-2026-12-01T10:00:00Z`.
      workflowId: scheduleId,
      taskQueue: opts.taskQueue,
      args: [{ dryRun: opts.dryRun }] as Parameters<typeof gcWorkflow>,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: Math.max(every, 60_000),
    },
  };
  try {
    await client.schedule.create<typeof gcWorkflow>({ scheduleId, ...wanted });
    return { handle, outcome: 'created' };
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  if (matches(await handle.describe(), wanted)) return { handle, outcome: 'unchanged' };
  await handle.update<typeof gcWorkflow>((previous) => ({
    ...wanted,
    state: {
      paused: previous.state.paused,
      note: previous.state.note,
      remainingActions: previous.state.remainingActions,
    },
  }));
  return { handle, outcome: 'updated' };
}

function matches(
  current: ScheduleDescription,
  wanted: {
    spec: { intervals: { every: number }[] };
    action: { workflowType: string; taskQueue: string; args: unknown[] };
    policies: { overlap: string; catchupWindow: number };
  },
): boolean {
  const { spec, action, policies } = current;
  return (
    (spec.calendars ?? []).length === 0 &&
    spec.intervals?.length === 1 &&
    spec.intervals[0].every === wanted.spec.intervals[0].every &&
    (spec.intervals[0].offset ?? 0) === 0 &&
    action.workflowType === wanted.action.workflowType &&
    action.taskQueue === wanted.action.taskQueue &&
    JSON.stringify(action.args ?? []) === JSON.stringify(wanted.action.args) &&
    policies.overlap === wanted.policies.overlap &&
    policies.catchupWindow === wanted.policies.catchupWindow
  );
}

/** The line a worker logs at start. */
export function gcScheduleLine(opts: GcScheduleOptions, outcome: GcScheduleOutcome): string {
  const id = gcScheduleId(opts.taskQueue);
  if (!opts.enabled)
    return `gc schedule '${id}': GC_ENABLED=false, ${outcome === 'removed' ? 'removed' : 'none'}`;
  return `gc schedule '${id}': every ${opts.intervalSeconds} s${opts.dryRun ? ', dry run' : ''} (${outcome})`;
}

/**
 * At a worker's start: the schedule made to match the settings, and one log line saying so. Never
 * fatal — batches run without it, and the next worker to start tries again.
 */
export async function startGcSchedule(config: Config): Promise<void> {
  const opts = gcScheduleOptions(config);
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect(temporalConnectionOptions(config));
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const { outcome } = await ensureGcSchedule(client, opts);
    console.log(gcScheduleLine(opts, outcome));
  } catch (err) {
    console.error(
      `gc schedule '${gcScheduleId(opts.taskQueue)}' could not be set up: ${(err as Error).message}`,
    );
  } finally {
    await connection?.close();
  }
}
