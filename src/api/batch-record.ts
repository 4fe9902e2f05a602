// One record of a batch for GET /v1/batches/{id}/requests/{custom_id}: where ingest put it, what
// its journal says (attempts, result), and whether the chunk holding it is running.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { ApiError } from '../domain/api-error';
import type { Batch } from '../domain/batch';
import { isTerminal } from '../domain/batch-state';
import { clip } from '../domain/clip';
import { RecordView, type RecordState } from '../domain/record-view';
import { recordEntries, type JournalAttempt } from '../records/journal';
import { parseSegment } from '../records/segment';
import type { FileRepository } from '../storage/file-repository';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import { segmentCounts } from './batch-segments';
import type { BatchService } from './batch-service';

export interface RecordDeps {
  store: ObjectStore;
  files: FileRepository;
  batches: BatchService;
}

/** Where ingest wrote a record: its model (index and name) and segment. */
interface Place {
  modelIndex: number;
  model: string;
  segment: number;
}

export function recordNotFound(customId: string): ApiError {
  return new ApiError(
    404,
    'not_found_error',
    `No request with custom_id '${clip(customId)}' in this batch.`,
    'custom_id',
    'request_not_found',
  );
}

/** The record view of `customId` in `batch` (already found for the tenant). */
export async function batchRecord(deps: RecordDeps, tenant: string, batch: Batch, customId: string) {
  if (batch.status === 'validating') throw recordNotFound(customId);
  const customIdJson = JSON.stringify(customId);
  const place = await findPlace(deps.store, tenant, batch.id, customIdJson);
  const journal = place
    ? await deps.store.get(layout.journal(tenant, batch.id, place.modelIndex, place.segment))
    : null;
  const { attempts, entry } = recordEntries(journal?.toString('utf8') ?? '', customIdJson);

  let result: { line: string; file: 'output' | 'error' } | null = entry
    ? { line: entry.line, file: entry.kind === 'o' ? 'output' : 'error' }
    : null;
  // Lines written only at finalize (repeats of an earlier body, requests that never ran) are in the
  // files alone; so is every line once intermediate data is collected after the batch ended.
  if (!result && isTerminal(batch.status))
    result = await lineInFiles(deps.files, tenant, batch, customIdJson);
  if (!place && !result) throw recordNotFound(customId);

  let state: RecordState = result ? 'done' : 'pending';
  if (!result && place && (await chunkRunning(deps.batches, batch.id, place))) state = 'in_flight';
  return RecordView.parse({
    object: 'batch.request',
    batch_id: batch.id,
    custom_id: customId,
    model: place?.model ?? (await modelFromInput(deps.files, tenant, batch, customIdJson)),
    state,
    attempts: attempts.map((a: JournalAttempt, i) => ({ attempt: i + 1, ...a })),
    result: result && JSON.parse(result.line),
    result_file: result?.file ?? null,
  });
}

/**
 * The segment holding the record: segments are read one at a time and searched as bytes for the
 * line's start (`<custom_id as JSON>\t`), so memory stays at one segment and the search at the first match.
 */
async function findPlace(
  store: ObjectStore,
  tenant: string,
  batchId: string,
  customIdJson: string,
): Promise<Place | null> {
  const atLineStart = Buffer.from(`\n${customIdJson}\t`);
  for (const { model, segments } of await segmentCounts(store, tenant, batchId)) {
    for (let s = 0; s < segments; s++) {
      const text = await store.get(layout.segment(tenant, batchId, model, s));
      if (!text) continue;
      const at = text.indexOf(atLineStart);
      if (at < 0 && !text.subarray(0, atLineStart.length - 1).equals(atLineStart.subarray(1))) continue;
      const req = parseSegment(text.toString('utf8')).find((r) => r.customIdJson === customIdJson);
      if (!req) continue;
      const body = JSON.parse(req.body) as { model?: unknown };
      return { modelIndex: model, model: typeof body.model === 'string' ? body.model : '', segment: s };
    }
  }
  return null;
}

/** Whether a chunk of the model's child covering the segment runs now (its heartbeat names its range). */
async function chunkRunning(batches: BatchService, batchId: string, place: Place): Promise<boolean> {
  const details = await batches.pendingHeartbeats(`${batchId}-model-${place.modelIndex}`);
  return details.some((d) => {
    const range = d as { from?: unknown; to?: unknown } | null;
    return (
      typeof range?.from === 'number' &&
      typeof range.to === 'number' &&
      range.from <= place.segment &&
      place.segment < range.to
    );
  });
}

/** The record's line in the error file, else the output file, streamed line by line. */
async function lineInFiles(
  files: FileRepository,
  tenant: string,
  batch: Batch,
  customIdJson: string,
): Promise<{ line: string; file: 'output' | 'error' } | null> {
  for (const [file, id] of [
    ['error', batch.error_file_id],
    ['output', batch.output_file_id],
  ] as const) {
    if (!id) continue;
    const line = await firstLine(await files.content(tenant, id), (l) => {
      if (!l.includes(`"custom_id":${customIdJson}`)) return false;
      return (JSON.parse(l) as { custom_id?: unknown }).custom_id === JSON.parse(customIdJson);
    });
    if (line) return { line, file };
  }
  return null;
}

/** After intermediate data is gone: the model named in the record's input line. */
async function modelFromInput(
  files: FileRepository,
  tenant: string,
  batch: Batch,
  customIdJson: string,
): Promise<string> {
  let model = '';
  await firstLine(await files.content(tenant, batch.input_file_id), (l) => {
    if (!l.includes(customIdJson)) return false;
    try {
      const parsed = JSON.parse(l) as { custom_id?: unknown; body?: { model?: unknown } };
      if (parsed.custom_id !== JSON.parse(customIdJson)) return false;
      model = typeof parsed.body?.model === 'string' ? parsed.body.model : '';
      return true;
    } catch {
      return false;
    }
  });
  return model;
}

async function firstLine(source: Readable | null, match: (line: string) => boolean): Promise<string | null> {
  if (!source) return null;
  const lines = createInterface({ input: source, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (match(line)) return line;
    return null;
  } finally {
    lines.close();
    source.destroy();
  }
}
