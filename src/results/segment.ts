// A segment line holds one input request as `<custom_id as JSON>\t<body as JSON>`, so a chunk
// can send the body without parsing and re-serialising it.

export interface SegmentRequest {
  /** The custom_id exactly as JSON-encoded in the segment (the journal's key). */
  customIdJson: string;
  body: string;
}

export function formatSegmentLine(customId: string, body: unknown): string {
  return `${JSON.stringify(customId)}\t${JSON.stringify(body)}\n`;
}

export function parseSegment(text: string): SegmentRequest[] {
  const out: SegmentRequest[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    const tab = raw.indexOf('\t');
    out.push({ customIdJson: raw.slice(0, tab), body: raw.slice(tab + 1) });
  }
  return out;
}
