// The CLI's pure parts: rate and time left, option values, the summary of a batch without our extensions.
import { describe, expect, it } from 'vitest';
import { listOption, metadataOption, secondsOption } from '../../src/cli/args';
import { describeBatch, finalLine, type GatewayBatch } from '../../src/cli/batch-view';
import { UsageError } from '../../src/cli/exit-codes';
import { formatDuration, formatRate, RateMeter } from '../../src/cli/rate';

describe('RateMeter', () => {
  it('measures over the last 15 s and answers the time left at that pace', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    meter.add(0);
    expect(meter.perSecond()).toBeNull();
    expect(meter.etaSeconds(100)).toBeNull();
    now = 2000;
    meter.add(20);
    expect(meter.perSecond()).toBe(10);
    expect(meter.etaSeconds(100)).toBe(8);
    // A stall long past the window: the old fast samples leave it, the rate falls to the recent one.
    now = 40_000;
    meter.add(20);
    now = 42_000;
    meter.add(22);
    expect(meter.perSecond()).toBe(1);
    expect(meter.etaSeconds(100)).toBe(78);
  });

  it('no progress: no rate to promise a time left with', () => {
    let now = 0;
    const meter = new RateMeter(() => now);
    meter.add(5);
    now = 1000;
    meter.add(5);
    expect(meter.perSecond()).toBe(0);
    expect(meter.etaSeconds(10)).toBeNull();
  });
});

it('formats rates and durations', () => {
  expect(formatRate(null)).toBe('- req/s');
  expect(formatRate(12.345)).toBe('12.3 req/s');
  expect(formatRate(1234.5)).toBe('1235 req/s');
  expect([null, 0, 44.6, 65, 3599, 7380].map(formatDuration)).toEqual([
    '-',
    '0s',
    '45s',
    '1m05s',
    '59m59s',
    '2h03m',
  ]);
});

describe('option values', () => {
  it('metadata pairs keep keys that are JavaScript words, and values holding =', () => {
    const m = metadataOption(['constructor=a', '__proto__=b', 'q=x=y', 'empty='], 'submit')!;
    expect(Object.getPrototypeOf(m)).toBe(Object.prototype);
    expect(Object.entries(m)).toEqual([
      ['constructor', 'a'],
      ['__proto__', 'b'],
      ['q', 'x=y'],
      ['empty', ''],
    ]);
    expect(JSON.stringify(m)).toBe('{"constructor":"a","__proto__":"b","q":"x=y","empty":""}');
    expect(metadataOption(undefined, 'submit')).toBeUndefined();
    expect(() => metadataOption(['=v'], 'submit')).toThrow(UsageError);
  });

  it('seconds and lists', () => {
    expect(secondsOption(undefined, 'interval', 'wait', 1000)).toBe(1000);
    expect(secondsOption('0.25', 'interval', 'wait', 1000)).toBe(250);
    for (const bad of ['0', '-1', 'soon', 'Infinity'])
      expect(() => secondsOption(bad, 'interval', 'wait', 1000)).toThrow(
        /--interval must be a positive number/,
      );
    expect(listOption(' 500, request_timeout ,,409')).toEqual(['500', 'request_timeout', '409']);
  });
});

it('a Batch of another OpenAI-compatible server (no x_ fields) reads the same, without the extension rows', () => {
  const batch = {
    id: 'batch_abc',
    object: 'batch',
    endpoint: '/v1/chat/completions',
    completion_window: '24h',
    status: 'completed',
    created_at: 1764650000,
    completed_at: 1764650060,
    input_file_id: 'file-in',
    output_file_id: 'file-out',
    error_file_id: null,
    request_counts: { total: 3, completed: 3, failed: 0 },
    metadata: null,
  } as unknown as GatewayBatch;
  expect(describeBatch(batch)).toEqual([
    'batch_abc',
    '  status       completed',
    '  endpoint     /v1/chat/completions   window 24h',
    '  created      2025-12-02 04:33:20Z',
    '  ended        2025-12-02 04:34:20Z',
    '  requests     3/3 done: completed 3, failed 0',
    '  output file  file-out',
  ]);
  expect(finalLine(batch)).toBe(
    'batch_abc completed: 3 requests, completed 3, failed 0 · output file file-out',
  );
});
