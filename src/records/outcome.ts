import type { GovernanceCounts } from '../domain/batch';

/** How the gateway's decision fell for one request (the per-line `x_governance.outcome`). */
export type Outcome = 'succeeded' | 'blocked' | 'flagged' | 'errored' | 'not_run';

/** Scores of one output line (see governance/quality.ts); absent when the line has no content. */
export interface QualityScore {
  completeness: number;
  consistency: number;
  governance_clean: boolean;
  /** The verdict against the batch's `x_quality_thresholds`; absent when none were set. */
  passed?: boolean;
}

export interface LineGovernance {
  outcome: Outcome;
  attempts: number;
  cached: boolean;
  quality?: QualityScore;
}

const LETTER: Record<Outcome, string> = {
  succeeded: 's',
  blocked: 'b',
  flagged: 'f',
  errored: 'e',
  not_run: 'n',
};

/**
 * A line's governance as a few letters for the journal, so totals can be counted without
 * parsing lines: outcome letter, then `r` (retried), `c` (cached), `p`/`q` (quality pass/fail)
 * or `u` (scored, no thresholds to judge by).
 */
export function outcomeTags(g: LineGovernance): string {
  return (
    LETTER[g.outcome] +
    (g.attempts > 1 ? 'r' : '') +
    (g.cached ? 'c' : '') +
    (g.quality ? (g.quality.passed === undefined ? 'u' : g.quality.passed ? 'p' : 'q') : '')
  );
}

export interface TagCounts {
  governance: GovernanceCounts;
  quality: { scored: number; passed: number };
}

/** Adds one line's tags to the running totals. */
export function countTags(into: TagCounts, tags: string): void {
  const g = into.governance;
  switch (tags[0]) {
    case 's':
      g.succeeded++;
      break;
    case 'b':
      g.blocked++;
      break;
    case 'f':
      g.flagged++;
      break;
    case 'e':
      g.errored++;
      break;
  }
  if (tags.includes('r')) g.retried++;
  if (tags.includes('c')) g.cached++;
  if (tags.includes('p')) {
    into.quality.scored++;
    into.quality.passed++;
  } else if (tags.includes('q') || tags.includes('u')) into.quality.scored++;
}
