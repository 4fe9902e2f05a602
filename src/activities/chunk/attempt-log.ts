// One request's gateway attempts, as journal lines: a retried attempt is journaled when answered,
// the last one goes out with the result in the same append (one write for the common single attempt).
import type { AttemptTiming } from '../../gateway/execute-request';
import { formatAttempt } from '../../records/journal';
import type { ChunkJournal, Job } from './chunk-journal';

export class AttemptLog {
  private last = '';

  constructor(
    private readonly journal: ChunkJournal,
    private readonly job: Job,
  ) {}

  /** For executeRequest's `onAttemptDone`. */
  readonly onAttemptDone = (a: AttemptTiming, willRetry: boolean): Promise<void> | undefined => {
    const line = formatAttempt(this.job.req.customIdJson, {
      started_at_ms: a.startedAtMs,
      duration_ms: a.durationMs,
      status_code: a.status,
      error: a.error,
      retry_after_ms: a.retryAfterMs,
    });
    // Retries are rare (429/5xx/timeouts): their own append lets a reader see them while waiting.
    if (willRetry) return this.journal.recordAttempts(this.job, line);
    this.last = line;
    return undefined;
  };

  /** The attempt line to write with the result. */
  unwritten(): string {
    return this.last;
  }
}
