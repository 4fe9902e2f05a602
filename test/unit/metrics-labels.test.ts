// Model labels are bounded (the first MAX_MODEL_LABELS, then `other`) and Object.prototype names are plain values.
import { describe, expect, it } from 'vitest';
import { registry, BoundedLabels, OTHER } from '../../src/observability/metrics';
import { MAX_MODEL_LABELS, modelMetrics } from '../../src/observability/metrics-worker';
import { sampleValue } from '../deploy/observability-files';

describe('BoundedLabels', () => {
  it('gives the first `max` names their own entry and every later one the shared OTHER', () => {
    let made = 0;
    const labels = new BoundedLabels(2, (label) => ({ label, n: ++made }));
    expect(labels.get('a').label).toBe('a');
    expect(labels.get('constructor').label).toBe('constructor');
    expect(labels.get('a').n).toBe(1); // the same entry again, not a new one
    expect(labels.get('__proto__').label).toBe(OTHER);
    expect(labels.get('toString')).toBe(labels.get('__proto__'));
    expect(made).toBe(3);
    expect([...labels.entries()].map((e) => e.label)).toEqual(['a', 'constructor', OTHER]);
  });
});

describe('upstream metrics per model', () => {
  it('counts attempts by status per model, keeps in flight balanced, and folds models past the bound into other', async () => {
    const proto = modelMetrics('__proto__');
    proto.sent(1);
    proto.answered(429);
    proto.sent(2);
    proto.answered(200);
    proto.sent(1);
    proto.answered('timeout');
    proto.sent(1);
    proto.answered(99_999); // not an HTTP status: one bounded value
    proto.tokens({ input: 5, cached: 0, output: 7, reasoning: 0 });
    for (let i = 0; i < MAX_MODEL_LABELS + 5; i++) modelMetrics(`model-${i}`).answered(200);
    const text = await registry.metrics();
    const m = { model: '__proto__' };
    expect(sampleValue(text, 'batchgw_upstream_requests_total', { ...m, status: '429' })).toBe(1);
    expect(sampleValue(text, 'batchgw_upstream_requests_total', { ...m, status: '200' })).toBe(1);
    expect(sampleValue(text, 'batchgw_upstream_requests_total', { ...m, status: 'timeout' })).toBe(1);
    expect(sampleValue(text, 'batchgw_upstream_requests_total', { ...m, status: 'invalid' })).toBe(1);
    expect(sampleValue(text, 'batchgw_upstream_retries_total', m)).toBe(1);
    expect(sampleValue(text, 'batchgw_upstream_in_flight', m)).toBe(0);
    expect(sampleValue(text, 'batchgw_upstream_tokens_total', { ...m, direction: 'output' })).toBe(7);
    // __proto__ took one of the MAX_MODEL_LABELS places, so the last 6 of the loop are `other`.
    expect(sampleValue(text, 'batchgw_upstream_requests_total', { model: OTHER, status: '200' })).toBe(6);
    const models = new Set(
      [...text.matchAll(/^batchgw_upstream_requests_total\{model="([^"]*)"/gm)].map((x) => x[1]),
    );
    expect(models.size).toBe(MAX_MODEL_LABELS + 1);
  });
});
