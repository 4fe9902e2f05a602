import { Context } from '@temporalio/activity';
import { DEFAULT_FILE_TTL_SECONDS } from '../domain/file';
import { emptyGovernance, emptyUsage } from '../domain/batch-state';
import { addTokens } from '../gateway/usage';
import { derivedFileId } from '../ids';
import { parseJournal } from '../results/journal';
import { countTags } from '../results/outcome';
import { notRunLine } from '../results/result-line';
import { parseSegment } from '../results/segment';
import { layout } from '../storage/layout';
import type { ObjectWriter } from '../storage/object-store';
import type { FinalizeInput, FinalizeResult } from '../workflows/types';
import type { ActivityRuntime } from './runtime';

/**
 * Assembles the output and error files by walking the input segments in order: each request
 * is written exactly once — its journaled result, or an error line with `missingCode` when it
 * never got one. Streams segment by segment; safe to retry (same file ids, atomic writes).
 */
export async function finalize(rt: ActivityRuntime, input: FinalizeInput): Promise<FinalizeResult> {
  const { store } = rt;
  const ctx = Context.current();
  const outputId = derivedFileId(input.batchId, 'output');
  const errorId = derivedFileId(input.batchId, 'error');
  const out = await store.createWriter(layout.fileContent(input.tenant, outputId));
  const err = await store.createWriter(layout.fileContent(input.tenant, errorId));
  const usage = emptyUsage();
  const tally = { governance: emptyGovernance(), quality: { scored: 0, passed: 0 } };
  let completed = 0;
  let failed = 0;
  try {
    for (const model of input.models) {
      for (let s = 0; s < model.segments; s++) {
        const segment = await store.get(layout.segment(input.tenant, input.batchId, model.index, s));
        if (!segment) throw new Error(`segment ${model.index}/${s} of ${input.batchId} is missing`);
        const journal =
          (await store.get(layout.journal(input.tenant, input.batchId, model.index, s)))?.toString('utf8') ??
          '';
        const results = parseJournal(journal);
        let outText = '';
        let errText = '';
        for (const req of parseSegment(segment.toString('utf8'))) {
          const entry = results.get(req.customIdJson);
          if (entry?.kind === 'o') {
            outText += entry.line + '\n';
            completed++;
          } else {
            errText += (entry ? entry.line : notRunLine(req.customIdJson, input.missingCode)) + '\n';
            failed++;
          }
          if (entry) {
            addTokens(usage, entry.tokens);
            countTags(tally, entry.tags);
          }
        }
        if (outText) await out.write(outText);
        if (errText) await err.write(errText);
        if (s % 50 === 0) ctx.heartbeat({ model: model.index, segment: s });
      }
    }
  } catch (e) {
    await out.abort();
    await err.abort();
    throw e;
  }

  const now = Math.floor(Date.now() / 1000);
  const ttl = input.outputTtlSeconds ?? DEFAULT_FILE_TTL_SECONDS;
  const register = async (
    writer: ObjectWriter,
    id: string,
    lines: number,
    role: 'output' | 'error',
  ): Promise<string | null> => {
    if (lines === 0) {
      await writer.abort();
      return null;
    }
    const { bytes } = await writer.commit();
    await rt.files.save({
      id,
      object: 'file',
      bytes,
      created_at: now,
      filename: `${input.batchId}_${role}.jsonl`,
      purpose: 'batch_output',
      status: 'processed',
      expires_at: now + ttl,
      status_details: null,
      tenant: input.tenant,
    });
    return id;
  };
  return {
    outputFileId: await register(out, outputId, completed, 'output'),
    errorFileId: await register(err, errorId, failed, 'error'),
    completed,
    failed,
    usage,
    governance: tally.governance,
    quality: tally.quality,
  };
}
