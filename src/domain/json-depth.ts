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
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > max) return true;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return false;
}
