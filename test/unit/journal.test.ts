import { describe, expect, it } from 'vitest';
import { formatEntry, journalRepairPrefix, parseJournal } from '../../src/records/journal';
import { formatSegmentLine, packPlace, parseSegment, unpackPlace } from '../../src/records/segment';

const tokens = { input: 3, cached: 1, output: 5, reasoning: 0 };

describe('segment journal', () => {
  it('round-trips entries, keyed by the JSON custom_id', () => {
    const text =
      formatEntry('o', JSON.stringify('a'), tokens, 'sr', '{"custom_id":"a"}') +
      formatEntry('e', JSON.stringify('tab\there'), tokens, 'b', '{"custom_id":"tab\\there"}');
    const parsed = parseJournal(text);
    expect(parsed.size).toBe(2);
    expect(parsed.get('"a"')).toEqual({ kind: 'o', tokens, tags: 'sr', line: '{"custom_id":"a"}' });
    expect(parsed.get(JSON.stringify('tab\there'))?.kind).toBe('e');
  });

  it('ignores an entry torn by a crash, even when later entries are appended after repair', () => {
    const whole = formatEntry('o', '"a"', tokens, 's', '{"custom_id":"a","x":1}');
    const torn = formatEntry('o', '"b"', tokens, 's', '{"custom_id":"b","x":2}').slice(0, -8);
    const before = whole + torn;
    const after =
      before + journalRepairPrefix(before) + formatEntry('o', '"c"', tokens, 's', '{"custom_id":"c"}');
    const parsed = parseJournal(after);
    expect([...parsed.keys()]).toEqual(['"a"', '"c"']);
    expect(journalRepairPrefix(whole)).toBe('');
  });

  it('keeps the first result when a request was journaled twice', () => {
    const text =
      formatEntry('o', '"a"', tokens, 's', '{"first":1}') +
      formatEntry('e', '"a"', tokens, 'e', '{"second":1}');
    expect(parseJournal(text).get('"a"')?.line).toBe('{"first":1}');
  });

  it('stores segment requests without re-encoding their bodies, with a reference for repeats', () => {
    const body = JSON.stringify({ model: 'm', messages: [{ content: 'x\ty' }] });
    const text =
      formatSegmentLine('id\n1', body) +
      formatSegmentLine('id2', '{}') +
      formatSegmentLine('id3', body, { segment: 7, offset: 42 });
    const reqs = parseSegment(text);
    expect(reqs).toHaveLength(3);
    expect(JSON.parse(reqs[0].customIdJson)).toBe('id\n1');
    expect(JSON.parse(reqs[0].body)).toEqual({ model: 'm', messages: [{ content: 'x\ty' }] });
    expect(reqs[0].sameAs).toBeUndefined();
    expect(reqs[2]).toEqual({ customIdJson: '"id3"', body, sameAs: { segment: 7, offset: 42 } });
    expect(unpackPlace(packPlace(7, 42))).toEqual({ segment: 7, offset: 42 });
  });
});
