import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batch as BatchSchema } from '../src/domain/batch';
import { chatLine, createBatch, readResultFile, waitForBatch } from './harness/batches';
import { startStack, type Stack } from './harness/stack';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(
    { MODEL_CONCURRENCY: '8', GLOBAL_CONCURRENCY: '12' },
    { latencyMs: 10, jitterMs: 10 },
  );
});
afterAll(async () => stack?.close());

describe('a batch through the official openai client', () => {
  it('runs a mixed-model batch to completion with exact output and error files', async () => {
    const lines = Array.from({ length: 240 }, (_, i) =>
      chatLine(
        `req-${i}`,
        i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        `hello ${i}${i % 50 === 7 ? ' #sim:409' : ''}`,
      ),
    );
    const created = await createBatch(stack.openai, lines, { metadata: { team: 'data' } });
    expect(BatchSchema.parse(created).status).toBe('validating');
    expect(created.metadata).toEqual({ team: 'data' });
    expect(created.expires_at).toBe(created.created_at + 24 * 3600);

    const done = await waitForBatch(stack.openai, created.id);
    BatchSchema.parse(done);
    expect(done.status).toBe('completed');
    const blocked = lines.filter((l) => JSON.stringify(l).includes('#sim:409')).map((l) => l.custom_id);
    expect(done.request_counts).toEqual({
      total: 240,
      completed: 240 - blocked.length,
      failed: blocked.length,
    });
    expect(done.in_progress_at).not.toBeNull();
    expect(done.finalizing_at).not.toBeNull();
    expect(done.completed_at).not.toBeNull();
    expect(done.completed_at!).toBeGreaterThanOrEqual(done.in_progress_at!);

    const output = await readResultFile(stack.openai, done.output_file_id);
    const errors = await readResultFile(stack.openai, done.error_file_id);
    expect(output).toHaveLength(240 - blocked.length);
    expect(errors.map((e) => e.custom_id).sort()).toEqual([...blocked].sort());
    const byId = new Map(lines.map((l) => [l.custom_id, l]));
    let promptTokens = 0;
    for (const line of output) {
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response!.status_code).toBe(200);
      expect(line.response!.request_id).toBeTruthy();
      const req = byId.get(line.custom_id)!;
      expect(line.response!.body.model).toBe(req.body.model);
      expect(line.response!.body.choices[0].message.content).toContain(
        (req.body.messages as { content: string }[])[0].content,
      );
      promptTokens += line.response!.body.usage.prompt_tokens;
    }
    for (const line of errors) {
      expect(line.error).toBeNull();
      expect(line.response!.status_code).toBe(409);
      expect(line.response!.body.error.code).toBe('policy_blocked');
    }
    expect(new Set([...output, ...errors].map((l) => l.custom_id)).size).toBe(240);
    expect(done.usage.input_tokens).toBe(promptTokens);
    expect(done.usage.total_tokens).toBe(done.usage.input_tokens + done.usage.output_tokens);

    const outFile = await stack.openai.files.retrieve(done.output_file_id!);
    expect(outFile.purpose).toBe('batch_output');
    expect(outFile.filename).toBe(`${done.id}_output.jsonl`);
    // Each blocked record reached the gateway exactly once: 409 is never retried.
    const records = (await (await fetch(`${stack.sim.url}/_sim/records?batch=${done.id}`)).json()) as Record<
      string,
      number
    >;
    for (const id of blocked) expect(records[id]).toBe(1);
  });
});
