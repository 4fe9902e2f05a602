import type { QualityScore } from '../results/outcome';

/** What the output checks say about one 2xx answer. */
export interface OutputVerdict {
  /** Set when the content fails the output schema: the line goes to the error file (`schema_validation_failed`). */
  schemaIssues: string[] | null;
  /** Per-line quality scores; undefined when the answer has no content to score. */
  quality: QualityScore | undefined;
}

/** Checks applied to every 2xx answer of a chunk (schema validation, quality scoring). */
export interface OutputChecks {
  inspect(requestBody: string, response: unknown, flagged: boolean): OutputVerdict;
}

/** No checks: every answer passes, nothing is scored. */
export const NO_CHECKS: OutputChecks = {
  inspect: () => ({ schemaIssues: null, quality: undefined }),
};
