// Per-model shares keyed by tenants' model names: `constructor`, `__proto__` and `toString` are plain models.
import { describe, expect, it } from 'vitest';
import { ConcurrencyLimits } from '../../src/activities/runtime';
import { loadConfig } from '../../src/config';

describe('cluster shares for models named like Object.prototype members', () => {
  it('each gets its own capacity and follows the worker share', () => {
    const limits = new ConcurrencyLimits(
      loadConfig({
        GLOBAL_CONCURRENCY: '30',
        MODEL_CONCURRENCY: '12',
        MODEL_CONCURRENCY_OVERRIDES: '{"constructor": 9}',
        ADAPTIVE_CONCURRENCY: 'false',
      }),
    );
    const names = ['constructor', '__proto__', 'toString'];
    const caps = names.map((n) => limits.model(n));
    expect(new Set(caps).size).toBe(3);
    expect(caps.map((c) => c.cap)).toEqual([9, 12, 12]);
    limits.setWorkerShare({ workers: 3, rank: 0, warmingUp: false });
    expect(caps.map((c) => c.cap)).toEqual([3, 4, 4]);
    expect(limits.global.limit).toBe(10);
    expect(limits.model('constructor')).toBe(caps[0]);
  });
});
