import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

// The optional cross-batch cache: identical requests of later batches within the TTL are answered
// from storage, counted as cached, and cost no upstream call and no tokens.
const TTL_S = 3;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ RESPONSE_CACHE_TTL_S: String(TTL_S) });
});
afterAll(async () => stack?.close());

const run = async (prefix: string, texts: string[]) => {
  const created = await createBatch(
    stack.openai,
    texts.map((t, i) => chatLine(`${prefix}-${i}`, 'gpt-4o-mini', t)),
  );
  return waitForBatch(stack.openai, created.id);
};

describe('cross-batch response cache', () => {
  it('answers repeats of earlier batches from the cache until the TTL passes', async () => {
    const questions = Array.from({ length: 10 }, (_, i) => `question ${i}`);
    const first = await run('a', questions);
    expect(stack.sim.batch(first.id).calls).toBe(10);
    expect(first.x_governance.cached).toBe(0);

    const second = await run('b', [...questions, 'new one', 'another new one']);
    expect(second.status).toBe('completed');
    expect(stack.sim.batch(second.id).calls).toBe(2);
    expect(second.x_governance).toMatchObject({ succeeded: 12, cached: 10 });
    const lines = (await readResultFile(stack.openai, second.output_file_id)) as (Awaited<
      ReturnType<typeof readResultFile>
    >[number] & { x_governance: { cached: boolean } })[];
    for (const l of lines) {
      const i = Number(l.custom_id.slice(2));
      expect(l.x_governance.cached).toBe(i < 10);
      expect(l.response!.body.choices[0].message.content).toBe(
        `echo: ${i < 10 ? questions[i] : i === 10 ? 'new one' : 'another new one'}`,
      );
    }
    // Usage is what this batch spent upstream: the two new requests only.
    const spent = lines
      .filter((l) => !l.x_governance.cached)
      .reduce((n, l) => n + (l.response!.body.usage.total_tokens as number), 0);
    expect(second.usage.total_tokens).toBe(spent);

    await new Promise((r) => setTimeout(r, (TTL_S + 1) * 1000));
    const third = await run('c', questions);
    expect(stack.sim.batch(third.id).calls).toBe(10);
    expect(third.x_governance.cached).toBe(0);
  });
});
