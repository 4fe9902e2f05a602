/**
 * True when JSON text nests objects and arrays deeper than `max`. A flat scan, no recursion and no
 * parse, so `[[[[…` a million deep costs one pass and never a stack overflow (JSON.stringify and
 * every recursive walk of a parsed body would). Brackets inside strings are skipped; text that is
 * not JSON gives an arbitrary answer, and JSON.parse rejects it afterwards.
 */
export function exceedsJsonDepth(text: string, max: number): boolean {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Jump to the closing quote: one not preceded by an odd run of backslashes.
      let end = i;
      for (;;) {
        end = text.indexOf('"', end + 1);
        if (end === -1) return false; // an unterminated string: not JSON, the parse says so
        let k = end - 1;
        while (text.charCodeAt(k) === 0x5c /* \ */) k--;
        if ((end - 1 - k) % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
