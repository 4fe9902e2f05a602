import type { TokenCounts } from '../gateway/usage';

// A segment's journal holds one entry per finished request, appended as each finishes:
//   <kind>\t<custom_id as JSON>\t<in>,<cached>,<out>,<reasoning>\t<tags>\t<length of line>\t<line>\n
// kind is `o` (output file) or `e` (error file); tags are the line's governance (outcome.ts). The length makes a torn write (a process killed
// mid-append) detectable without parsing the line, so such an entry is ignored and its request re-run.

export type ResultKind = 'o' | 'e';

export interface JournalEntry {
  kind: ResultKind;
  tokens: TokenCounts;
  tags: string;
  line: string;
}

export function formatEntry(
  kind: ResultKind,
  customIdJson: string,
  t: TokenCounts,
  tags: string,
  line: string,
): string {
  return `${kind}\t${customIdJson}\t${t.input},${t.cached},${t.output},${t.reasoning}\t${tags}\t${line.length}\t${line}\n`;
}

/** Parses a journal; the first intact entry per custom_id wins, torn or malformed entries are skipped. */
export function parseJournal(text: string): Map<string, JournalEntry> {
  const entries = new Map<string, JournalEntry>();
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    const raw = text.slice(pos, end);
    pos = end + 1;
    const t1 = raw.indexOf('\t');
    const t2 = raw.indexOf('\t', t1 + 1);
    const t3 = raw.indexOf('\t', t2 + 1);
    const t4 = raw.indexOf('\t', t3 + 1);
    const t5 = raw.indexOf('\t', t4 + 1);
    if (t1 !== 1 || t2 < 0 || t3 < 0 || t4 < 0 || t5 < 0) continue;
    const kind = raw[0];
    const line = raw.slice(t5 + 1);
    if ((kind !== 'o' && kind !== 'e') || Number(raw.slice(t4 + 1, t5)) !== line.length) continue;
    const [input, cached, output, reasoning] = raw
      .slice(t2 + 1, t3)
      .split(',')
      .map(Number);
    const customId = raw.slice(t1 + 1, t2);
    if (!entries.has(customId)) {
      entries.set(customId, {
        kind,
        tokens: { input, cached, output, reasoning },
        tags: raw.slice(t3 + 1, t4),
        line,
      });
    }
  }
  return entries;
}

/** Text to append before new entries so a torn last entry cannot swallow the next one. */
export function journalRepairPrefix(existing: string): string {
  return existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
}
