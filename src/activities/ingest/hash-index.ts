/**
 * A compact map from strings to the 1-based line number where each was first seen, for
 * duplicate detection over inputs of millions of lines in flat memory: keys are 64-bit hashes
 * in typed arrays (~24 bytes per key), not the strings themselves. Two different strings can
 * share a hash, so a hit is only a *suspect*; the caller confirms it against the real text.
 */
export class HashIndex {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private line: Uint32Array;
  private count = 0;

  /** `capacity` (a power of two) is where it starts; it doubles whenever half full, so a small index stays small. */
  constructor(capacity = 16) {
    if (capacity < 2 || (capacity & (capacity - 1)) !== 0)
      throw new RangeError('capacity must be a power of two ≥ 2');
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.line = new Uint32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes held by the table (three 32-bit words per slot). */
  get bytes(): number {
    return this.line.length * 12;
  }

  /** Records `key` first seen at `lineNo` (≥ 1); returns the line of an earlier key with the same hash, or 0. */
  addOrGet(key: string, lineNo: number): number {
    if ((this.count + 1) * 2 > this.line.length) this.grow();
    const [h, l] = hash64(key);
    return this.insert(h, l, lineNo);
  }

  private insert(h: number, l: number, lineNo: number): number {
    const mask = this.line.length - 1;
    for (let i = (l ^ h) & mask; ; i = (i + 1) & mask) {
      const at = this.line[i];
      if (at === 0) {
        this.hi[i] = h;
        this.lo[i] = l;
        this.line[i] = lineNo;
        this.count++;
        return 0;
      }
      if (this.hi[i] === h && this.lo[i] === l) return at;
    }
  }

  private grow(): void {
    const { hi, lo, line } = this;
    this.hi = new Uint32Array(line.length * 2);
    this.lo = new Uint32Array(line.length * 2);
    this.line = new Uint32Array(line.length * 2);
    this.count = 0;
    for (let i = 0; i < line.length; i++) if (line[i] !== 0) this.insert(hi[i], lo[i], line[i]);
  }
}

/** Two independent 32-bit FNV-1a style hashes over UTF-16 code units: 64 bits in all. */
function hash64(s: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [a >>> 0, b >>> 0];
}
