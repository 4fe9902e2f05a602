import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Batch } from '../domain/batch';
import type { ProgressDelta } from './types';

/** The live Batch object, as the API returns it. */
export const getBatchQuery = defineQuery<Batch>('getBatch');
/** Cancel the batch (for the Web UI and direct users); the API uses the update below to get the Batch back. */
export const cancelSignal = defineSignal('cancel');
export const cancelUpdate = defineUpdate<Batch>('cancelBatch');
/**
 * Pause and resume the batch (signals for the Web UI and direct users; the API uses the updates to
 * get the Batch back). The parent forwards the same signals to its per-model children by workflow id.
 */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const pauseUpdate = defineUpdate<Batch>('pauseBatch');
export const resumeUpdate = defineUpdate<Batch>('resumeBatch');
/**
 * The patch id of pause and resume (README, "Changing workflow code"), here because the parent and
 * the children both check it: every command a pause adds is behind it, in the handlers too.
 */
export const PAUSE_RESUME = 'pause-resume';
/** The update validators' failure type when a batch can no longer be paused or resumed. */
export const NOT_PAUSABLE = 'batch_not_pausable';
export const NOT_RESUMABLE = 'batch_not_resumable';
/** A per-model child reports finished requests (deltas, at most one signal per chunk completion). */
export const progressSignal = defineSignal<[ProgressDelta]>('progress');

/** Why a batch stops before all its requests ran. */
export type StopReason = 'cancelled' | 'expired' | 'budget' | 'failed';
/**
 * The parent tells a per-model child to stop: start no more chunks, cancel the running ones (their
 * in-flight requests finish), then end. Sent by workflow id, so it reaches the child's current run
 * whatever its run id after continue-as-new (a child cancellation targets the first run only).
 */
export const stopSignal = defineSignal<[StopReason]>('stop');

export const BATCH_STATUS_SA = defineSearchAttributeKey('BatchStatus', SearchAttributeType.KEYWORD);
/** The batch id, for finding a batch started from Temporal (its workflow id is the starter's) in the Web UI. */
export const BATCH_ID_SA = defineSearchAttributeKey('BatchId', SearchAttributeType.KEYWORD);
export const BATCH_TENANT_SA = defineSearchAttributeKey('BatchTenant', SearchAttributeType.KEYWORD);
export const BATCH_CREATED_AT_SA = defineSearchAttributeKey('BatchCreatedAt', SearchAttributeType.INT);
/** Creation order (microseconds, strictly increasing per API process): set by the API at start. */
export const BATCH_CREATED_SEQ_SA = defineSearchAttributeKey('BatchCreatedSeq', SearchAttributeType.INT);

/** Search attributes the dev server must register (name → type as the temporal CLI spells it). */
export const SEARCH_ATTRIBUTES: Record<string, string> = {
  BatchStatus: 'Keyword',
  BatchId: 'Keyword',
  BatchTenant: 'Keyword',
  BatchCreatedAt: 'Int',
  BatchCreatedSeq: 'Int',
};

export const BATCH_WORKFLOW_TYPE = 'batchWorkflow';
