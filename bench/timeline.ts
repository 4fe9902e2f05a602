// Where a batch's fixed costs go, from its workflow histories: the steps before the first upstream
// call and after the last answer, in ms relative to those two moments (from the simulator).
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ms = (e: HistoryEvent): number =>
  Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);

/** The events of every run of a workflow, oldest first (a continued-as-new run follows its predecessor). */
async function historyOf(client: Client, workflowId: string): Promise<HistoryEvent[]> {
  const runs: HistoryEvent[][] = [];
  for await (const wf of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const h = await client.workflow.getHandle(workflowId, wf.runId).fetchHistory();
    runs.push(h.events ?? []);
  }
  return runs.flat().sort((a, b) => ms(a) - ms(b));
}

/** The activity type of each scheduled event id, to name the started and completed events. */
function activityTypes(events: HistoryEvent[]): Map<number, string> {
  const types = new Map<number, string>();
  for (const e of events) {
    const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) types.set(Number(e.eventId), name);
  }
  return types;
}

function activityTimes(events: HistoryEvent[], type: string): { started: number[]; completed: number[] } {
  const types = activityTypes(events);
  const started: number[] = [];
  const completed: number[] = [];
  for (const e of events) {
    const s = e.activityTaskStartedEventAttributes;
    if (s && types.get(Number(s.scheduledEventId)) === type) started.push(ms(e));
    const c = e.activityTaskCompletedEventAttributes;
    if (c && types.get(Number(c.scheduledEventId)) === type) completed.push(ms(e));
  }
  return { started, completed };
}

const first = (e: HistoryEvent[], t: temporal.api.enums.v1.EventType) => e.find((x) => x.eventType === t);

/**
 * Steps of the start (ms after `startOriginMs`, by default when the batch's workflow started) and
 * of the end (ms after the last upstream answer).
 */
export async function batchTimeline(
  client: Client,
  batchId: string,
  firstCallAtMs: number,
  lastAnswerAtMs: number,
  startOriginMs?: number,
): Promise<Record<string, Record<string, number | null>>> {
  const parent = await historyOf(client, batchId);
  const childIds = parent
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId)
    .filter((id): id is string => !!id);
  const children = await Promise.all(childIds.map((id) => historyOf(client, id)));
  const startedAt = startOriginMs ?? ms(first(parent, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)!);
  const ingest = activityTimes(parent, 'ingest');
  const chunks = children.map((c) => activityTimes(c, 'processChunk'));
  const childStarted = parent.filter(
    (e) => e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
  );
  const childDone = parent.filter(
    (e) => e.eventType === EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
  );
  const finalize = activityTimes(parent, 'finalize');
  const snapshot = activityTimes(parent, 'saveSnapshot');
  const completed = first(parent, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  const since = (t0: number) => (t: number | undefined) => (t === undefined ? null : t - t0);
  const fromStart = since(startedAt);
  const fromLast = since(lastAnswerAtMs);
  const minOf = (xs: number[]) => (xs.length ? Math.min(...xs) : undefined);
  const maxOf = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
  return {
    startMs: {
      firstWorkflowTask: fromStart(
        parent.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)
          ? ms(parent.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)!)
          : undefined,
      ),
      ingestStarted: fromStart(ingest.started[0]),
      ingestCompleted: fromStart(ingest.completed[0]),
      firstChildStarted: fromStart(minOf(childStarted.map(ms))),
      firstChunkStarted: fromStart(minOf(chunks.flatMap((c) => c.started))),
      firstCall: fromStart(firstCallAtMs),
    },
    endMs: {
      lastChunkCompleted: fromLast(maxOf(chunks.flatMap((c) => c.completed))),
      lastChildCompleted: fromLast(maxOf(childDone.map(ms))),
      finalizeStarted: fromLast(finalize.started[0]),
      finalizeCompleted: fromLast(finalize.completed[0]),
      snapshotCompleted: fromLast(snapshot.completed[0]),
      workflowCompleted: fromLast(completed ? ms(completed) : undefined),
    },
  };
}
