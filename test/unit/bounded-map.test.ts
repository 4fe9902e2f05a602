import { describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/bounded-map';

describe('BoundedMap', () => {
  it('forgets the oldest entries beyond its size, keeps updating existing keys', () => {
    const m = new BoundedMap<string, number>(3);
    m.set('a', 1).set('b', 2).set('c', 3);
    m.set('a', 10);
    expect([...m.keys()]).toEqual(['a', 'b', 'c']);
    m.set('d', 4);
    expect([...m.entries()]).toEqual([
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ]);
  });
});
