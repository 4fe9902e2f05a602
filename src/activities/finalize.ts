import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { BATCH_DATA_INCONSISTENT } from '../domain/failures';
import { DEFAULT_FILE_TTL_SECONDS } from '../domain/file';
import { emptyGovernance, emptyUsage } from '../domain/batch-state';
import { addTokens } from '../gateway/usage';
import { derivedFileId, newRequestLineId } from '../ids';
import type { JournalEntry } from '../records/journal';
import { countTags, outcomeTags, type LineGovernance } from '../records/outcome';
import { notRunLine } from '../records/result-line';
import { layout } from '../storage/layout';
import type { ObjectWriter } from '../storage/object-store';
import type { FinalizeInput, FinalizeResult } from '../workflows/types';
import type { ActivityRuntime } from './runtime';
import { SegmentCache, type LoadedSegment } from './segment-cache';

/** Segments finalize reads ahead of the one it writes (each can be several MiB: kept few). */
const READ_AHEAD = 2;

/** The first request's result as the line of a repeat: its own id and custom_id, marked cached. */
function cachedCopy(answer: JournalEntry, customIdJson: string): JournalEntry {
  const line = JSON.parse(answer.line) as { x_governance: LineGovernance } & Record<string, unknown>;
  const governance: LineGovernance = { ...line.x_governance, attempts: 0, cached: true };
  const copy = {
    ...line,
    id: newRequestLineId(),
    custom_id: JSON.parse(customIdJson) as string,
    x_governance: governance,
  };
  return {
    kind: answer.kind,
    tokens: answer.tokens,
    tags: outcomeTags(governance),
    line: JSON.stringify(copy),
  };
}

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
  // Per model, the lines each file got (the batch's x_models at the end).
  const models: { index: number; completed: number; failed: number }[] = [];
  try {
    for (const model of input.models) {
      const before = { completed, failed };
      const segments = new SegmentCache(
        store,
        input.tenant,
        input.batchId,
        model.index,
        rt.config.FINALIZE_CACHE_BYTES,
      );
      let lines = 0;
      // The next segments are read while this one is written, so reads and writes overlap. (Each
      // read is handled at once: one left behind by a failure must not end the worker.)
      const ahead: Promise<LoadedSegment>[] = [];
      const readAhead = (from: number) => {
        for (let s = from + ahead.length; s < Math.min(from + READ_AHEAD, model.segments); s++) {
          const read = segments.read(s);
          read.catch(() => undefined);
          ahead.push(read);
        }
      };
      for (let s = 0; s < model.segments; s++) {
        readAhead(s);
        const current = await ahead.shift()!;
        const { requests, results } = current;
        lines += requests.length;
        let outText = '';
        let errText = '';
        for (const req of requests) {
          let entry = results.get(req.customIdJson);
          let copied = false;
          if (!entry && req.sameAs) {
            // A repeated body: the first request's answer, fanned out to this custom_id.
            // The original is often in this very segment: never ask the cache for it again (a
            // segment larger than the budget is not kept, and would be read once per repeat).
            const first = req.sameAs.segment === s ? current : await segments.get(req.sameAs.segment);
            const original = first.requests[req.sameAs.offset];
            const answer = original?.body === req.body ? first.results.get(original.customIdJson) : undefined;
            if (answer) {
              entry = cachedCopy(answer, req.customIdJson);
              copied = true;
            }
          }
          if (entry?.kind === 'o') {
            outText += entry.line + '\n';
            completed++;
          } else {
            errText += (entry ? entry.line : notRunLine(req.customIdJson, input.missingCode)) + '\n';
            failed++;
          }
          if (entry) {
            // Tokens were spent once, by the first request: a fanned-out copy adds none.
            if (!copied) addTokens(usage, entry.tokens);
            countTags(tally, entry.tags);
          }
        }
        if (outText) await out.write(outText);
        if (errText) await err.write(errText);
        // Every segment: a segment of large lines can take a while, and the SDK throttles heartbeats.
        ctx.heartbeat({ model: model.index, segment: s });
      }
      // Never write files short of a line: segments that lost requests (e.g. a host crash before
      // the OS wrote them to disk) stop finalize instead of silently dropping lines.
      if (model.requests !== undefined && lines !== model.requests) {
        throw ApplicationFailure.create({
          type: BATCH_DATA_INCONSISTENT,
          nonRetryable: true,
          message: `Batch ${input.batchId}: the ${model.segments} input segments of model ${model.index} hold ${lines} requests; ingest wrote ${model.requests}.`,
        });
      }
      models.push({
        index: model.index,
        completed: completed - before.completed,
        failed: failed - before.failed,
      });
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
    models,
  };
}
