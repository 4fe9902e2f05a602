import { type FullCounts } from '../../domain/counts';
import { addTokens, type TokenCounts } from '../../gateway/usage';
import type { ResultKind } from '../../records/journal';
import { countTags } from '../../records/outcome';

/** Adds one result line (its file, tokens and governance tags). */
export function countResult(into: FullCounts, kind: ResultKind, tokens: TokenCounts, tags: string): void {
  if (kind === 'o') into.completed++;
  else into.failed++;
  addTokens(into.usage, tokens);
  countTags(into, tags);
}
