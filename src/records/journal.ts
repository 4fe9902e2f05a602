import type { TokenCounts } from '../gateway/usage';

// A segment's journal holds one entry per finished request, appended as each finishes:
//   <kind>\t<custom_id as JSON>\t<in>,<cached>,<out>,<reasoning>\t<tags>\t<length of line>\t<line>\n
// kind is `o` (output file) or `e` (error file); tags are the line's governance (outcome.ts). The length makes a torn write (a process killed
// mid-append) detectable without parsing the line, so such an entry is ignored and its request re-run.
// Beside them, one line per gateway attempt of a request (GET /v1/batches/{id}/requests/{custom_id}):
//   a\t<custom_id as JSON>\t<length of attempt>\t<attempt as JSON>\n
// written in the same append as the result entry, or on its own as soon as a retried attempt is answered.
// Readers of results skip them (any kind but `o`/`e` is skipped), so journals without them read the same.

export type ResultKind = 'o' | 'e';

export interface JournalEntry {
  kind: ResultKind;
  tokens: TokenCounts;
  tags: string;
  line: string;
}

/** One gateway attempt as journaled: RecordAttempt without its number (its place among the record's lines). */
export interface JournalAttempt {
  started_at_ms: number;
  duration_ms: number;
  status_code: number | null;
  error: { code: 'request_timeout' | 'request_failed'; message: string } | null;
  retry_after_ms: number | null;
}

export function formatAttempt(customIdJson: string, a: JournalAttempt): string {
  // Written out rather than JSON.stringify: one per request on the hot path, and only `error` is a string.
  const json =
    `{"started_at_ms":${a.started_at_ms},"duration_ms":${a.duration_ms},"status_code":${a.status_code},` +
    `"error":${a.error ? JSON.stringify(a.error) : 'null'},"retry_after_ms":${a.retry_after_ms}}`;
  return `a\t${customIdJson}\t${json.length}\t${json}\n`;
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

/** What one journal holds about one request: its attempts in journal order, and its first intact entry. */
export interface RecordEntries {
  attempts: JournalAttempt[];
  entry: JournalEntry | null;
}

/**
 * The attempts and result of one custom_id (as JSON) in a journal; torn lines are skipped.
 * Lines of other records are passed over on their prefix alone, without parsing.
 */
export function recordEntries(text: string, customIdJson: string): RecordEntries {
  const out: RecordEntries = { attempts: [], entry: null };
  const prefixLength = customIdJson.length + 3;
  let pos = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end === -1) end = text.length;
    const start = pos;
    pos = end + 1;
    if (
      text[start + 1] !== '\t' ||
      text[start + prefixLength - 1] !== '\t' ||
      !text.startsWith(customIdJson, start + 2)
    )
      continue;
    const raw = text.slice(start, end);
    if (raw[0] === 'a') {
      const t3 = raw.indexOf('\t', prefixLength);
      const json = raw.slice(t3 + 1);
      if (t3 < 0 || Number(raw.slice(prefixLength, t3)) !== json.length) continue;
      try {
        out.attempts.push(JSON.parse(json) as JournalAttempt);
      } catch {
        // A length that matches by chance over a torn line: not an attempt.
      }
    } else if (!out.entry) {
      out.entry = parseJournal(raw).get(customIdJson) ?? null;
    }
  }
  return out;
}

/** Text to append before new entries so a torn last entry cannot swallow the next one. */
export function journalRepairPrefix(existing: string): string {
  return existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
}
