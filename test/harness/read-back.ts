import type OpenAI from 'openai';
import { expect } from 'vitest';
import type { Batch } from '../../src/domain/batch';
import { readResultFile } from './batches';

/**
 * A batch started from Temporal, as the HTTP API serves it: the same Batch by id, in the list,
 * and its output file downloads with one line per custom_id.
 */
export async function expectServedByApi(openai: OpenAI, result: Batch, customIds: string[]): Promise<void> {
  const viaApi = await openai.batches.retrieve(result.id);
  expect(viaApi).toMatchObject({
    id: result.id,
    status: result.status,
    request_counts: result.request_counts,
    input_file_id: result.input_file_id,
    output_file_id: result.output_file_id,
    error_file_id: result.error_file_id,
  });
  const listed: string[] = [];
  for await (const b of openai.batches.list()) listed.push(b.id);
  expect(listed).toContain(result.id);
  const output = await readResultFile(openai, result.output_file_id);
  expect(output.map((l) => l.custom_id).sort()).toEqual([...customIds].sort());
}
