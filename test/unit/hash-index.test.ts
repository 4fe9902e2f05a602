import { describe, expect, it } from 'vitest';
import { HashIndex } from '../../src/activities/ingest/hash-index';

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

describe('HashIndex memory', () => {
  it('starts small and grows with its keys, so a model with few lines costs little', () => {
    const idx = new HashIndex();
    expect(idx.bytes).toBeLessThanOrEqual(64 * 12);
    for (let i = 1; i <= 3; i++) idx.addOrGet(`body-${i}`, i);
    expect(idx.bytes).toBeLessThanOrEqual(64 * 12);
    for (let i = 4; i <= 10_000; i++) idx.addOrGet(`body-${i}`, i);
    // At most four slots per key after doubling (half full at most, just after a growth).
    expect(idx.bytes).toBeLessThanOrEqual(10_000 * 4 * 12);
    expect(idx.addOrGet('body-3', 10_001)).toBe(3);
  });
  it('refuses a capacity that is not a power of two', () => {
    expect(() => new HashIndex(100)).toThrow(RangeError);
  });
});
