// Names of Temporal failure types shared by activities (which throw them) and workflows
// (which list them as non-retryable and turn them into Batch errors). Pure: workflow-safe.

/** The gateway answered 401/403: the batch halts and fails, nothing is retried. */
export const GATEWAY_AUTH_FAILED = 'GatewayAuthFailed';

/** A worker saw the batch's token budget used up: the batch stops (like a cancel), it does not fail. */
export const BUDGET_EXCEEDED = 'BudgetExceeded';

/** Batch error codes the workflow sets in `errors.data`. */
export const BATCH_ERROR_CODES = {
  gatewayAuthFailed: 'gateway_auth_failed',
  internal: 'internal_error',
} as const;

/**
 * A batch's stored data is not what an earlier step wrote (a segment missing, a count that does not
 * match): retrying cannot help, so the activity fails non-retryably and the batch ends `failed`.
 */
export const BATCH_DATA_INCONSISTENT = 'BatchDataInconsistent';

/** Storage refused a write for good (ENOSPC, EROFS, EDQUOT…): the batch ends `failed`, no retry loop. */
export const STORAGE_UNWRITABLE = 'StorageUnwritable';

/** The input of a batch started from Temporal is invalid: the workflow fails at once, naming the field. */
export const INVALID_BATCH_INPUT = 'InvalidBatchInput';
