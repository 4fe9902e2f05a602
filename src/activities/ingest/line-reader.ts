/**
 * The lines of an input file, read from a byte stream with a bound on each line's size: a line
 * longer than `maxBytes` is skipped byte by byte (never held in memory) and reported by number.
 * Line ends are `\n`, `\r\n` or a lone `\r`, as node:readline splits them, so line numbers match
 * what any line-oriented tool shows. The terminator is not part of the line nor of its size.
 */
export type RawLine =
  | { lineNo: number; text: string; tooLarge?: undefined }
  /** A line of more than `maxBytes` bytes: its text was dropped as it streamed past. */
  | { lineNo: number; text?: undefined; tooLarge: true };

const LF = 0x0a;
const CR = 0x0d;

export async function* readLines(
  source: AsyncIterable<Buffer | string>,
  maxBytes: number,
): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let bytes = 0;
  let tooLarge = false;
  let lineNo = 0;
  // The previous chunk ended in `\r`: a `\n` opening this one belongs to the same line end.
  let afterCR = false;

  const take = (piece: Buffer) => {
    if (piece.length === 0) return;
    bytes += piece.length;
    if (tooLarge) return;
    if (bytes > maxBytes) {
      tooLarge = true;
      parts = [];
    } else parts.push(piece);
  };
  const emit = (): RawLine => {
    lineNo++;
    const line: RawLine = tooLarge
      ? { lineNo, tooLarge: true }
      : {
          lineNo,
          text: parts.length === 1 ? parts[0].toString('utf8') : Buffer.concat(parts, bytes).toString('utf8'),
        };
    parts = [];
    bytes = 0;
    tooLarge = false;
    return line;
  };

  for await (const chunk of source) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    if (afterCR && buf.length > 0) {
      afterCR = false;
      if (buf[0] === LF) start = 1;
    }
    // Next positions of each terminator, found once per chunk and then only moved forward.
    let lf = buf.indexOf(LF, start);
    let cr = buf.indexOf(CR, start);
    while (start < buf.length) {
      if (lf !== -1 && lf < start) lf = buf.indexOf(LF, start);
      if (cr !== -1 && cr < start) cr = buf.indexOf(CR, start);
      const end = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      if (end === -1) {
        take(buf.subarray(start));
        break;
      }
      take(buf.subarray(start, end));
      yield emit();
      if (buf[end] === CR) {
        if (end + 1 === buf.length) afterCR = true;
        else if (buf[end + 1] === LF) {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
  }
  if (bytes > 0) yield emit();
}
