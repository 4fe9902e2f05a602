// Progress counts of a chunk, a model or a batch. Pure: workflow-safe.
import type { GovernanceCounts, Usage } from './batch';
import { addGovernance, addUsage, emptyGovernance, emptyUsage } from './batch-state';

export interface Counts {
  completed: number;
  failed: number;
  usage: Usage;
  /** Optional: progress from workflows started before these existed has none. */
  governance?: GovernanceCounts;
  quality?: { scored: number; passed: number };
}

/** Counts with every optional part present. */
export type FullCounts = Required<Counts>;

export const zeroCounts = (): FullCounts => ({
  completed: 0,
  failed: 0,
  usage: emptyUsage(),
  governance: emptyGovernance(),
  quality: { scored: 0, passed: 0 },
});

/** Adds `c` into `into`; tolerates counts written before governance and quality existed. */
export function addCounts(into: Counts, c: Counts): void {
  into.completed += c.completed;
  into.failed += c.failed;
  addUsage(into.usage, c.usage);
  if (c.governance) {
    into.governance ??= emptyGovernance();
    addGovernance(into.governance, c.governance);
  }
  if (c.quality) {
    into.quality ??= { scored: 0, passed: 0 };
    into.quality.scored += c.quality.scored;
    into.quality.passed += c.quality.passed;
  }
}
