import { Context } from '@temporalio/activity';
import type { BatchError } from '../../domain/batch';
import { clip } from '../../domain/clip';
import { checkInputLine, lineTooLarge } from '../../domain/input-line';
import { layout } from '../../storage/layout';
import { formatSegmentLine, packPlace, unpackPlace } from '../../records/segment';
import { planChunks } from './chunk-plan';
import { HashIndex } from './hash-index';
import { readLines } from './line-reader';
import type { ActivityRuntime } from '../runtime';
import type { IngestInput, IngestResult } from '../../workflows/types';

/** At most this many `errors.data` entries are kept: the Batch object must stay small. */
export const MAX_REPORTED_ERRORS = 1000;
/** …and at most this many bytes of them: the errors travel in the ingest result, a workflow payload. */
export const MAX_REPORTED_ERROR_BYTES = 128 * 1024;
/** A segment is written once its buffered lines reach this size, so no segment is huge to read back. */
const SEGMENT_MAX_CHARS = 8 * 1024 * 1024;

interface ModelShard {
  index: number;
  model: string;
  requests: number;
  segments: number;
  buffer: string[];
  /** Characters in `buffer`. */
  bufferChars: number;
  /** Bodies seen in this shard → place of their first request (when deduplication is on). */
  bodies: HashIndex | null;
}

/** Reads the custom_ids of the first occurrences and keeps the suspects that really repeat one. */
async function confirmDuplicates(
  rt: ActivityRuntime,
  input: IngestInput,
  suspects: { line: number; first: number; customId: string }[],
): Promise<BatchError[]> {
  const wanted = new Set(suspects.map((s) => s.first));
  const firstIds = new Map<number, string>();
  const content = await rt.files.content(input.tenant, input.inputFileId);
  if (!content) throw new Error(`input file ${input.inputFileId} vanished during ingest`);
  // The same reader as the first pass, so line numbers agree (first occurrences were valid lines).
  for await (const line of readLines(content, rt.config.MAX_LINE_BYTES)) {
    if (line.text !== undefined && wanted.has(line.lineNo))
      firstIds.set(line.lineNo, (JSON.parse(line.text) as { custom_id: string }).custom_id);
  }
  return suspects
    .filter((s) => firstIds.get(s.first) === s.customId)
    .map((s) => ({
      code: 'duplicate_custom_id',
      message: `Line ${s.line}: custom_id '${clip(s.customId)}' is not unique.`,
      param: 'custom_id',
      line: s.line,
    }));
}

/**
 * Streams the input file once (plus a read of a few lines to confirm duplicate custom_ids), validates every line, and writes valid requests into
 * per-model segments. Safe to retry: it rewrites the same segments from the same file.
 */
export async function ingest(rt: ActivityRuntime, input: IngestInput): Promise<IngestResult> {
  const { config, store } = rt;
  const errors: BatchError[] = [];
  let errorBytes = 0;
  const addError = (e: BatchError) => {
    const size = e.message.length + e.code.length + (e.param?.length ?? 0) + 48;
    if (errors.length >= MAX_REPORTED_ERRORS || errorBytes + size > MAX_REPORTED_ERROR_BYTES) return;
    errors.push(e);
    errorBytes += size;
  };
  const file = await rt.files.get(input.tenant, input.inputFileId);
  const content =
    file && file.purpose === 'batch' ? await rt.files.content(input.tenant, input.inputFileId) : null;
  if (!content) {
    return {
      ok: false,
      errors: [
        {
          code: 'invalid_request',
          message: `Input file '${clip(input.inputFileId)}' is no longer available.`,
          param: 'input_file_id',
          line: null,
        },
      ],
    };
  }

  const rules = {
    endpoint: input.endpoint,
    allowedModels: config.ALLOWED_MODELS.length ? new Set(config.ALLOWED_MODELS) : null,
    maxJsonDepth: config.MAX_JSON_DEPTH,
    maxCustomIdLength: config.MAX_CUSTOM_ID_LENGTH,
  };
  // custom_ids seen so far, as 64-bit hashes (flat memory at millions of lines); a hash hit is a
  // suspect, confirmed against the real custom_id by a second read of just those lines.
  const seen = new HashIndex(1 << 10);
  const suspects: { line: number; first: number; customId: string }[] = [];
  const shards = new Map<string, ModelShard>();
  // Distinct models of valid lines, tracked even once the batch is known to fail (shards stop then).
  const seenModels = new Set<string>();
  let tooManyModels = false;
  const writes: Promise<void>[] = [];
  let lineNo = 0;
  let total = 0;
  let tooMany = false;

  // One segment size for the whole batch: about a 64th of its lines (estimated from the file's size
  // and the lines read when it is first needed), between SEGMENT_SIZE and SEGMENT_SIZE_LARGE — a
  // small batch keeps fine-grained segments, a large one far fewer files. 0: not chosen yet.
  let segmentSize = config.SEGMENT_SIZE_LARGE === config.SEGMENT_SIZE ? config.SEGMENT_SIZE : 0;
  let charsRead = 0;
  const chooseSegmentSize = () => {
    const lines = Math.round(((file?.bytes ?? 0) * lineNo) / Math.max(1, charsRead));
    return Math.min(config.SEGMENT_SIZE_LARGE, Math.max(config.SEGMENT_SIZE, Math.floor(lines / 64)));
  };
  const flush = async (shard: ModelShard) => {
    if (shard.buffer.length === 0) return;
    const key = layout.segment(input.tenant, input.batchId, shard.index, shard.segments);
    const text = shard.buffer.join('');
    shard.buffer = [];
    shard.bufferChars = 0;
    shard.segments++;
    await store.put(key, text);
  };

  for await (const raw of readLines(content, config.MAX_LINE_BYTES)) {
    lineNo = raw.lineNo;
    if (lineNo % 10_000 === 0) Context.current().heartbeat(lineNo);
    if (raw.tooLarge) {
      addError(lineTooLarge(lineNo, config.MAX_LINE_BYTES));
      continue;
    }
    const text = raw.text;
    charsRead += text.length + 1;
    if (text.trim() === '') continue;
    const check = checkInputLine(text, lineNo, rules);
    if (!check.ok) {
      addError(check.error);
      continue;
    }
    if (!seenModels.has(check.model)) {
      if (seenModels.size >= config.MAX_MODELS_PER_BATCH) {
        // Reported once, at the line bringing the first model beyond the limit; the batch fails.
        if (!tooManyModels)
          addError({
            code: 'too_many_models',
            message: `Line ${lineNo}: model '${clip(check.model)}' is beyond the maximum of ${config.MAX_MODELS_PER_BATCH} distinct models per batch.`,
            param: 'body.model',
            line: lineNo,
          });
        tooManyModels = true;
        continue;
      }
      seenModels.add(check.model);
    }
    const customId = check.line.custom_id;
    const first = seen.addOrGet(customId, lineNo);
    if (first !== 0) suspects.push({ line: lineNo, first, customId });
    total++;
    if (total > config.MAX_REQUESTS_PER_BATCH) {
      tooMany = true;
      break;
    }
    if (errors.length > 0) continue; // the batch will fail: only keep validating
    let shard = shards.get(check.model);
    if (!shard) {
      shard = {
        index: shards.size,
        model: check.model,
        requests: 0,
        segments: 0,
        buffer: [],
        bufferChars: 0,
        // Starts small and doubles as it fills: a model's memory follows its lines.
        bodies: config.DEDUPE_IDENTICAL_REQUESTS ? new HashIndex() : null,
      };
      shards.set(check.model, shard);
    }
    const bodyJson = JSON.stringify(check.line.body);
    let sameAs: { segment: number; offset: number } | undefined;
    if (shard.bodies) {
      const place = packPlace(shard.segments, shard.buffer.length);
      const first = shard.bodies.addOrGet(bodyJson, place);
      // A hash hit is a suspect: the chunk compares the bodies before reusing an answer.
      if (first !== 0) sameAs = unpackPlace(first);
    }
    const segmentLine = formatSegmentLine(customId, bodyJson, sameAs);
    shard.buffer.push(segmentLine);
    shard.bufferChars += segmentLine.length;
    shard.requests++;
    if (!segmentSize && shard.buffer.length >= config.SEGMENT_SIZE) segmentSize = chooseSegmentSize();
    if ((segmentSize && shard.buffer.length >= segmentSize) || shard.bufferChars >= SEGMENT_MAX_CHARS) {
      writes.push(flush(shard));
      if (writes.length >= 8) await Promise.all(writes.splice(0));
    }
  }
  content.destroy();
  await Promise.all(writes);
  if (!tooMany && suspects.length > 0) {
    for (const e of await confirmDuplicates(rt, input, suspects)) addError(e);
    errors.sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity));
  }

  if (tooMany) {
    errors.length = 0;
    errors.push({
      code: 'too_many_tasks',
      message: `The input file has more than the maximum of ${config.MAX_REQUESTS_PER_BATCH} requests per batch.`,
      param: null,
      line: null,
    });
  } else if (total === 0 && errors.length === 0) {
    errors.push({ code: 'empty_file', message: 'The input file has no requests.', param: null, line: null });
  }
  if (errors.length > 0) {
    await store.deletePrefix(layout.batchPrefix(input.tenant, input.batchId));
    return { ok: false, errors };
  }
  for (const shard of shards.values()) await flush(shard);

  const { models, segmentsPerChunk } = planChunks(
    config,
    [...shards.values()],
    rt.limits.workerShare.workers,
  );
  return { ok: true, total, models, segmentsPerChunk };
}
