import { describe, expect, it } from 'vitest';
import { HashIndex } from '../../src/ingest/hash-index';

describe('HashIndex', () => {
  it('reports the first line of a repeated key and nothing for new keys, across growth', () => {
    const idx = new HashIndex(4);
    for (let i = 1; i <= 50_000; i++) expect(idx.addOrGet(`id-${i}`, i)).toBe(0);
    expect(idx.size).toBe(50_000);
    expect(idx.addOrGet('id-1', 50_001)).toBe(1);
    expect(idx.addOrGet('id-31337', 50_002)).toBe(31337);
    expect(idx.addOrGet('id-50000', 50_003)).toBe(50_000);
    expect(idx.addOrGet('', 50_004)).toBe(0);
    expect(idx.addOrGet('', 50_005)).toBe(50_004);
    expect(idx.size).toBe(50_001);
  });
});
