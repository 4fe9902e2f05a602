import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { readLines, type RawLine } from '../../src/activities/ingest/line-reader';

/** The input cut into chunks at the given sizes (repeated), as a file stream would deliver it. */
function chunked(text: string | Buffer, sizes: number[]): Buffer[] {
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < buf.length; i++) {
    const n = sizes[i % sizes.length];
    out.push(buf.subarray(at, at + n));
    at += n;
  }
  return out;
}

async function collect(chunks: Buffer[], maxBytes = 1 << 20): Promise<RawLine[]> {
  const lines: RawLine[] = [];
  for await (const l of readLines(Readable.from(chunks), maxBytes)) lines.push(l);
  return lines;
}

async function viaReadline(text: string): Promise<string[]> {
  const out: string[] = [];
  for await (const l of createInterface({ input: Readable.from([Buffer.from(text)]), crlfDelay: Infinity }))
    out.push(l);
  return out;
}

describe('line reader', () => {
  const samples = ['a\nb\nc', 'a\nb\n', 'a\r\nb\r\n\r\nc', 'a\rb\r\r\nc\r', '\n\n{"x":"ü€😀"}\n', '', 'only'];
  it.each(samples)('splits %j as node:readline does, whatever the chunking', async (text) => {
    const want = await viaReadline(text);
    for (const sizes of [[1], [2], [3, 1], [1 << 16]]) {
      const got = await collect(chunked(text, sizes));
      expect(got.map((l) => l.text)).toEqual(want);
      expect(got.map((l) => l.lineNo)).toEqual(want.map((_, i) => i + 1));
    }
  });

  it('skips a line over the limit without holding it, and keeps counting lines after it', async () => {
    const big = 'x'.repeat(5000);
    const text = `short\n${big}\nafter\n${'y'.repeat(1000)}\n`;
    const got = await collect(chunked(text, [7, 300]), 1000);
    expect(got).toEqual([
      { lineNo: 1, text: 'short' },
      { lineNo: 2, tooLarge: true },
      { lineNo: 3, text: 'after' },
      { lineNo: 4, text: 'y'.repeat(1000) },
    ]);
  });

  it('measures bytes, not characters (a multi-byte line can be too large)', async () => {
    const got = await collect([Buffer.from('é'.repeat(600) + '\n')], 1000); // 1,200 bytes
    expect(got).toEqual([{ lineNo: 1, tooLarge: true }]);
  });

  it('reports a 20 MB line without a line end once', async () => {
    async function* source() {
      for (let i = 0; i < 20; i++) yield Buffer.alloc(1 << 20, 0x61);
    }
    const got: RawLine[] = [];
    for await (const l of readLines(source(), 1 << 20)) got.push(l);
    expect(got).toEqual([{ lineNo: 1, tooLarge: true }]);
  });
});
