import { describe, expect, it } from 'vitest';
import { backoffDelay, classifyStatus, parseRetryAfter, retryDelay } from '../../src/gateway/retry';

describe('the error table', () => {
  it.each([
    [200, 'success'],
    [201, 'success'],
    [409, 'blocked'],
    [401, 'auth'],
    [403, 'auth'],
    [429, 'retryable'],
    [408, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [503, 'retryable'],
    [504, 'retryable'],
    [400, 'final'],
    [404, 'final'],
    [422, 'final'],
  ])('HTTP %i is %s', (status, expected) => {
    expect(classifyStatus(status)).toBe(expected);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
  });
  it('reads an HTTP-date', () => {
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 09:59:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeNull();
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(['4', '9'], now)).toBe(4000);
  });
});

describe('backoff', () => {
  const policy = { baseMs: 100, maxMs: 1000 };
  it('grows exponentially under full jitter and is capped', () => {
    expect(backoffDelay(1, policy, () => 0.999)).toBe(99);
    expect(backoffDelay(2, policy, () => 0.999)).toBe(199);
    expect(backoffDelay(3, policy, () => 0.999)).toBe(399);
    expect(backoffDelay(10, policy, () => 0.999)).toBe(999);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
  });
  it('prefers the gateway Retry-After, capped at the max', () => {
    expect(retryDelay(1, 700, policy, () => 0.5)).toBe(700);
    expect(retryDelay(1, 5000, policy, () => 0.5)).toBe(1000);
    expect(retryDelay(2, null, policy, () => 0.5)).toBe(100);
  });
});
