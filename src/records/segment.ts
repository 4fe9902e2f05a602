// A segment line holds one input request as `<custom_id as JSON>\t<body as JSON>`, so a chunk
// can send the body without parsing and re-serialising it. A request whose body repeats an
// earlier one of the same batch carries a third field `<segment>:<offset>` naming that first
// occurrence: it is answered from the first one's result instead of being sent again.

export interface SegmentRequest {
  /** The custom_id exactly as JSON-encoded in the segment (the journal's key). */
  customIdJson: string;
  body: string;
  /** Where the first request with the same body is (same model shard), if this one repeats it. */
  sameAs?: { segment: number; offset: number };
}

/** Segments hold at most this many requests, so a request's place fits in 32 bits. */
export const MAX_SEGMENT_SIZE = 4096;

export function formatSegmentLine(
  customId: string,
  bodyJson: string,
  sameAs?: { segment: number; offset: number },
): string {
  const ref = sameAs ? `\t${sameAs.segment}:${sameAs.offset}` : '';
  return `${JSON.stringify(customId)}\t${bodyJson}${ref}\n`;
}

export function parseSegment(text: string): SegmentRequest[] {
  const out: SegmentRequest[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const tab = raw.indexOf('\t');
    // JSON text never holds a raw tab, so a second tab can only start the reference.
    const tab2 = raw.indexOf('\t', tab + 1);
    if (tab2 === -1) {
      out.push({ customIdJson: raw.slice(0, tab), body: raw.slice(tab + 1) });
      continue;
    }
    const [segment, offset] = raw
      .slice(tab2 + 1)
      .split(':')
      .map(Number);
    out.push({
      customIdJson: raw.slice(0, tab),
      body: raw.slice(tab + 1, tab2),
      sameAs: { segment, offset },
    });
  }
  return out;
}

/** A request's place packed into one number (for HashIndex values, which must be ≥ 1). */
export const packPlace = (segment: number, offset: number): number => segment * MAX_SEGMENT_SIZE + offset + 1;
export const unpackPlace = (packed: number): { segment: number; offset: number } => ({
  segment: Math.floor((packed - 1) / MAX_SEGMENT_SIZE),
  offset: (packed - 1) % MAX_SEGMENT_SIZE,
});
