// One worker's part of the deployment-wide caps and rate limits, from how many workers are live and its rank among them.

/**
 * Where a worker stands in the deployment, from the task queue's live pollers (worker-census.ts):
 * `workers` live workers counting itself, `rank` its place among their sorted identities, and
 * `warmingUp` while the others may not have seen it yet (then it takes the least it can run on).
 */
export interface WorkerShare {
  readonly workers: number;
  readonly rank: number;
  readonly warmingUp: boolean;
}

/** A process alone: every cap and limit whole (the census is off, or sees no other worker). */
export const ALONE: WorkerShare = { workers: 1, rank: 0, warmingUp: false };

/** Before a worker's first census: one slot per cap and no rate budget until it knows its share. */
export const WARMING_UP: WorkerShare = { workers: 1, rank: 0, warmingUp: true };

/**
 * A worker's part of a concurrency cap: `floor(cap / n)`, plus one for the first `cap % n` ranks,
 * so the parts of n workers that agree on n sum to exactly `cap`. At least 1: a worker with no slot
 * would start no lane and its chunks would never finish, so where the cap is smaller than the
 * number of workers the deployment may run up to `n` in flight (one per worker), not `cap`.
 * While warming up: 1.
 */
export function capShare(cap: number, share: WorkerShare): number {
  if (share.warmingUp) return 1;
  const n = Math.max(1, share.workers);
  const rank = Math.min(Math.max(0, share.rank), n - 1);
  return Math.max(1, Math.floor(cap / n) + (rank < cap % n ? 1 : 0));
}

/**
 * A worker's part of a rate limit (requests or tokens per minute): an even `limit / n`, one weight
 * per worker. While warming up: 0 (paused: the bucket's first unit only, see rate-limit.ts).
 */
export function rateShare(limit: number, share: WorkerShare): number {
  if (share.warmingUp) return 0;
  return limit / Math.max(1, share.workers);
}

/** Same place in the deployment: nothing to resize. */
export function sameShare(a: WorkerShare, b: WorkerShare): boolean {
  return a.workers === b.workers && a.rank === b.rank && a.warmingUp === b.warmingUp;
}
