// GET /v1/batches/{id}/results: the result lines finished so far, streamed without holding more
// than one segment's journal: from the journals while the batch runs, from its files once it ended.
import { Readable } from 'node:stream';
import type { Batch } from '../domain/batch';
import { isTerminal } from '../domain/batch-state';
import { parseJournal } from '../records/journal';
import type { FileRepository } from '../storage/file-repository';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';
import { segmentCounts } from './batch-segments';

export type ResultsKind = 'output' | 'error' | 'both';

export interface PartialResultsDeps {
  store: ObjectStore;
  files: FileRepository;
}

/** The lines of `batch` finished at read time, one per line (`\n`-terminated), output and error as `kind` asks. */
export function partialResults(
  deps: PartialResultsDeps,
  tenant: string,
  batch: Batch,
  kind: ResultsKind,
): Readable {
  const pieces = isTerminal(batch.status)
    ? fileContents(deps.files, tenant, batch, kind)
    : journalLines(deps.store, tenant, batch.id, kind);
  // Pulled as the client reads: one segment's lines (or one file chunk) at a time.
  return Readable.from(pieces, { objectMode: false });
}

/** Per segment in model and segment order, its journal's finished lines in the order they finished. */
async function* journalLines(
  store: ObjectStore,
  tenant: string,
  batchId: string,
  kind: ResultsKind,
): AsyncGenerator<string> {
  for (const { model, segments } of await segmentCounts(store, tenant, batchId)) {
    for (let s = 0; s < segments; s++) {
      const raw = await store.get(layout.journal(tenant, batchId, model, s));
      if (!raw) continue;
      let text = '';
      // First intact entry per custom_id only, torn ones skipped (parseJournal); attempt lines never.
      for (const entry of parseJournal(raw.toString('utf8')).values()) {
        if (kind === 'both' || (kind === 'output') === (entry.kind === 'o')) text += entry.line + '\n';
      }
      if (text) yield text;
    }
  }
}

/** The output file, then the error file, as stored (finalize wrote every line exactly once). */
async function* fileContents(
  files: FileRepository,
  tenant: string,
  batch: Batch,
  kind: ResultsKind,
): AsyncGenerator<Buffer> {
  const wanted = [
    kind !== 'error' ? batch.output_file_id : null,
    kind !== 'output' ? batch.error_file_id : null,
  ];
  for (const id of wanted) {
    if (!id) continue;
    const content = await files.content(tenant, id);
    if (!content) continue;
    let last: Buffer | null = null;
    for await (const chunk of content as AsyncIterable<Buffer>) {
      last = chunk;
      yield chunk;
    }
    // Files end with a newline; this keeps the two files apart should one ever not.
    if (last && last.length > 0 && last[last.length - 1] !== 0x0a) yield Buffer.from('\n');
  }
}
