// A small terminal emulator for tests: what a screen shows after a program's raw output.

/**
 * Replays text, CR/LF and the cursor codes cli-progress writes (CSI n A/B/G, K, and the ignored
 * private modes such as ?25l) onto a grid; answers the screen's lines, trailing blanks trimmed.
 */
export function renderScreen(raw: string): string[] {
  const screen: string[][] = [[]];
  let row = 0;
  let col = 0;
  const line = () => (screen[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === '\x1b' && raw[i + 1] === '[') {
      const m = /^\x1b\[(\??)(\d*)(?:;(\d*))?([A-Za-z])/.exec(raw.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      const [, priv, a, , op] = m;
      if (priv) continue;
      const n = a === '' ? 1 : Number(a);
      if (op === 'A') row = Math.max(0, row - n);
      else if (op === 'B') row += n;
      else if (op === 'G') col = n - 1;
      else if (op === 'K' && (a === '' || a === '0')) line().length = Math.min(line().length, col);
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') row++;
    else {
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  const lines = Array.from({ length: screen.length }, (_, r) => (screen[r] ?? []).join('').trimEnd());
  while (lines.length && !lines[lines.length - 1]) lines.pop();
  return lines;
}
