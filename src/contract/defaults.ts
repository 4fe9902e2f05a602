// The public workflow contract's version and defaults. Pure constants: workflow code imports them.

/**
 * Version of StartBatchInput. A new field is optional, so every version-1 input stays valid; a change
 * that is not (a field removed or retyped) becomes version 2, and the workflow keeps accepting 1.
 */
export const START_BATCH_CONTRACT_VERSION = 1;

/** The task queue our workers poll unless TEMPORAL_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'batch-gateway';
export const DEFAULT_TENANT = 'default';
export const DEFAULT_COMPLETION_WINDOW = '24h';
