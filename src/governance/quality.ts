import type { QualityScore } from '../records/outcome';
import type { AnswerContent } from './content';

export interface QualityThresholds {
  min_completeness: number;
  min_consistency: number;
}

/** Content this long (trimmed) counts as complete; shorter content scores proportionally. */
export const COMPLETENESS_TARGET_CHARS = 50;
/** A truncated answer (token limit hit) is never more than half complete. */
const TRUNCATED_CAP = 0.5;
/** This many identical words in a row is a degenerate (looping) generation. */
const REPEAT_RUN = 8;

const round = (x: number): number => Math.round(x * 1000) / 1000;

/** 0 for empty content, else length relative to the target, capped at 1 (and at 0.5 when truncated). */
export function completeness(content: AnswerContent): number {
  const chars = content.text.trim().length;
  if (chars === 0) return 0;
  const score = Math.min(1, chars / COMPLETENESS_TARGET_CHARS);
  return round(content.truncated ? Math.min(score, TRUNCATED_CAP) : score);
}

/** Control characters (other than tab and line breaks) and U+FFFD mark garbled text. */
function isGarbage(code: number): boolean {
  return (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f || code === 0xfffd;
}

function longestWordRun(text: string): number {
  let best = 0;
  let run = 0;
  let prev = '';
  for (const word of text.toLowerCase().split(/\s+/)) {
    if (!word) continue;
    run = word === prev ? run + 1 : 1;
    prev = word;
    if (run > best) best = run;
  }
  return best;
}

/**
 * How well free text looks like a finished answer: the share of clean characters, halved for a
 * degenerate repetition loop and halved for an unclosed code fence. 0 for blank text.
 */
export function plainTextConsistency(text: string): number {
  if (!text.trim()) return 0;
  let garbage = 0;
  for (let i = 0; i < text.length; i++) if (isGarbage(text.charCodeAt(i))) garbage++;
  let score = 1 - garbage / text.length;
  if (longestWordRun(text) >= REPEAT_RUN) score *= 0.5;
  if ((text.split('```').length - 1) % 2 === 1) score *= 0.5;
  return round(score);
}

/**
 * A line's scores. `consistency` is decided by the caller (schema / JSON / text, see output-checks);
 * a line passes when it reaches both thresholds, is governance-clean and did not fail its schema.
 * Without thresholds (none set at creation) there is no verdict: a short but correct answer must
 * not read as a failure against limits nobody chose.
 */
export function scoreQuality(
  content: AnswerContent,
  consistency: number,
  flagged: boolean,
  schemaFailed: boolean,
  thresholds: QualityThresholds | null,
): QualityScore {
  const c = completeness(content);
  const score: QualityScore = { completeness: c, consistency, governance_clean: !flagged };
  if (thresholds) {
    score.passed =
      c >= thresholds.min_completeness &&
      consistency >= thresholds.min_consistency &&
      !flagged &&
      !schemaFailed;
  }
  return score;
}
