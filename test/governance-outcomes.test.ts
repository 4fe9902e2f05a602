import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Batch } from '../src/domain/batch';
import { chatLine, createBatchWith, readResultFile, waitForBatch, type RequestLine } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// Governance outcomes per batch and per line, and the token budget that stops a batch.
const MODEL_CONCURRENCY = 4;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { MODEL_CONCURRENCY: String(MODEL_CONCURRENCY), MAX_ATTEMPTS: '3' },
    { latencyMs: 20, retryAfterS: 0.05 },
  );
});
afterAll(async () => stack?.close());

/** Creates a batch with our `x_` extensions (the openai clients send them as extra body keys). */
const createWith = (lines: RequestLine[], extra: Record<string, unknown>): Promise<Batch> =>
  createBatchWith(stack, lines, extra);

describe('governance outcomes', () => {
  it('counts succeeded, blocked, flagged, errored and retried requests, and tags every line', async () => {
    const marker = (i: number) =>
      i < 3 ? ' #sim:409' : i < 7 ? ' #sim:flag' : i < 9 ? ' #sim:429x1' : i < 10 ? ' #sim:400' : '';
    const lines = Array.from({ length: 40 }, (_, i) =>
      chatLine(`g-${i}`, 'gpt-4o-mini', `item ${i}${marker(i)}`),
    );
    const created = await createWith(lines, {});
    expect(created.x_governance).toEqual({
      succeeded: 0,
      blocked: 0,
      flagged: 0,
      errored: 0,
      retried: 0,
      cached: 0,
    });
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('completed');
    expect(done.x_governance).toEqual({
      succeeded: 32,
      blocked: 3,
      flagged: 4,
      errored: 1,
      retried: 2,
      cached: 0,
    });
    expect(done.request_counts).toEqual({ total: 40, completed: 36, failed: 4 });

    const all = [
      ...(await readResultFile(stack.openai, done.output_file_id)),
      ...(await readResultFile(stack.openai, done.error_file_id)),
    ] as (Awaited<ReturnType<typeof readResultFile>>[number] & {
      x_governance: { outcome: string; attempts: number };
    })[];
    const byId = new Map(all.map((l) => [l.custom_id, l.x_governance]));
    expect(byId.get('g-0')).toMatchObject({ outcome: 'blocked', attempts: 1 });
    expect(byId.get('g-4')).toMatchObject({ outcome: 'flagged', attempts: 1 });
    expect(byId.get('g-8')).toMatchObject({ outcome: 'succeeded', attempts: 2 });
    expect(byId.get('g-9')).toMatchObject({ outcome: 'errored', attempts: 1 });
    expect(byId.get('g-20')).toMatchObject({ outcome: 'succeeded', attempts: 1, cached: false });
  });
});

describe('response cache', () => {
  it('sends identical request bodies once and fans the answer out to each custom_id', async () => {
    // 5 distinct bodies × 4 requests each, and one blocked body twice, spread over segments.
    const lines: RequestLine[] = [];
    for (let copy = 0; copy < 4; copy++)
      for (let b = 0; b < 5; b++) lines.push(chatLine(`c-${b}-${copy}`, 'gpt-4o-mini', `same question ${b}`));
    lines.push(
      chatLine('blocked-a', 'gpt-4o-mini', 'forbidden #sim:409'),
      chatLine('blocked-b', 'gpt-4o-mini', 'forbidden #sim:409'),
    );
    const done = await waitForBatch(stack.openai, (await createWith(lines, {})).id);
    expect(done.status).toBe('completed');
    expect(stack.sim.batch(done.id).calls).toBe(6);
    expect(done.request_counts).toEqual({ total: 22, completed: 20, failed: 2 });
    expect(done.x_governance).toMatchObject({ succeeded: 20, blocked: 2, cached: 16 });

    type Line = Awaited<ReturnType<typeof readResultFile>>[number] & {
      x_governance: { cached: boolean; attempts: number };
    };
    const output = (await readResultFile(stack.openai, done.output_file_id)) as Line[];
    expect(new Set(output.map((l) => l.custom_id)).size).toBe(20);
    expect(new Set(output.map((l) => l.id)).size).toBe(20);
    for (const l of output) {
      const b = l.custom_id.split('-')[1];
      expect(l.response!.body.choices[0].message.content).toBe(`echo: same question ${b}`);
      expect(l.x_governance.cached).toBe(l.custom_id.endsWith('-0') ? false : true);
    }
    // Usage counts the tokens spent upstream: five answers, not twenty.
    const spent = output
      .filter((l) => !l.x_governance.cached)
      .reduce((n, l) => n + (l.response!.body.usage.total_tokens as number), 0);
    expect(done.usage.total_tokens).toBe(spent);
    const errors = (await readResultFile(stack.openai, done.error_file_id)) as Line[];
    expect(errors.map((l) => [l.custom_id, l.response!.status_code, l.x_governance.cached]).sort()).toEqual([
      ['blocked-a', 409, false],
      ['blocked-b', 409, true],
    ]);
  });
});

describe('token budget', () => {
  it('stops the batch once x_max_tokens are used: the rest is budget_exceeded, nothing lost', async () => {
    const total = 300;
    const lines = Array.from({ length: total }, (_, i) =>
      chatLine(`t-${i}`, 'gpt-4o-mini', `tell me about item ${i}`),
    );
    const maxTokens = 200;
    const created = await createWith(lines, { x_max_tokens: maxTokens });
    expect(created.x_budget).toEqual({ max_tokens: maxTokens, used_tokens: 0, exceeded: false });
    const done = await waitForBatch(stack.openai, created.id);
    expect(done.status).toBe('cancelled');
    expect(done.cancelling_at).not.toBeNull();
    expect(done.x_budget!.exceeded).toBe(true);
    expect(done.x_budget!.used_tokens).toBeGreaterThanOrEqual(maxTokens);
    expect(done.x_budget!.used_tokens).toBe(done.usage.total_tokens);

    const output = await readResultFile(stack.openai, done.output_file_id);
    const errors = await readResultFile(stack.openai, done.error_file_id);
    expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(total);
    expect(output.length + errors.length).toBe(total);
    expect(errors.every((l) => l.error?.code === 'budget_exceeded' && l.response === null)).toBe(true);
    // Each answered request used ~10 tokens: the budget allows ~20; in-flight requests may finish.
    const perRequest = done.usage.total_tokens / output.length;
    expect(output.length).toBeLessThanOrEqual(Math.ceil(maxTokens / perRequest) + MODEL_CONCURRENCY);
    expect(stack.sim.batch(created.id).calls).toBe(output.length);
  });
});
