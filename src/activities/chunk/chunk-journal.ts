import { ApplicationFailure } from '@temporalio/common';
import { BATCH_DATA_INCONSISTENT } from '../../domain/failures';
import type { TokenCounts } from '../../gateway/usage';
import { formatEntry, journalRepairPrefix, parseJournal, type ResultKind } from '../../records/journal';
import { parseSegment, type SegmentRequest } from '../../records/segment';
import { layout } from '../../storage/layout';
import type { ObjectAppender, ObjectStore } from '../../storage/object-store';
import type { Counts } from '../../domain/counts';
import type { ChunkInput } from '../../workflows/types';
import { addCounts, zeroCounts, type FullCounts } from '../../domain/counts';
import { countResult } from './counts';

interface SegmentState {
  index: number;
  remaining: number;
  counts: FullCounts;
  journalKey: string;
  repair: string;
  appender: Promise<ObjectAppender> | null;
}

/** One request of the chunk still to be sent. */
export interface Job {
  seg: SegmentState;
  req: SegmentRequest;
}

/**
 * The chunk's segments as stored: what is already done (done-markers and journaled results,
 * counted, never re-sent) and what is left (the jobs). `record` appends a result to its
 * segment's journal and writes the segment's done-marker when its last request finishes.
 */
export class ChunkJournal {
  readonly jobs: Job[] = [];
  /** Counts of segments that were already complete before this attempt. */
  private readonly previouslyDone = zeroCounts();
  private readonly segments: SegmentState[] = [];
  private readonly writes = new Set<Promise<void>>();
  private writeError: Error | null = null;
  /** Told of the first journal write that failed (e.g. a full disk), while the chunk runs. */
  onWriteError: ((err: Error) => void) | null = null;

  private constructor(
    private readonly store: ObjectStore,
    private readonly input: ChunkInput,
  ) {}

  static async load(store: ObjectStore, input: ChunkInput): Promise<ChunkJournal> {
    const j = new ChunkJournal(store, input);
    const { tenant, batchId, modelIndex } = input;
    // Requests without a result, in order; `answered` once a repeat's original is confirmed to have
    // the same body (it is then answered at finalize, not sent).
    const pending: { seg: SegmentState; req: SegmentRequest; answered: boolean }[] = [];
    // Repeats of bodies in other segments, by the segment of their original: each of those is
    // read once, after this chunk's own segments, and dropped as soon as its repeats are compared —
    // no original segment is kept (they can be hundreds of MiB, per chunk in flight).
    const elsewhere = new Map<number, (typeof pending)[number][]>();
    for (let s = input.fromSegment; s < input.toSegment; s++) {
      const done = await store.get(layout.segmentDone(tenant, batchId, modelIndex, s));
      if (done) {
        addCounts(j.previouslyDone, JSON.parse(done.toString('utf8')) as Counts);
        continue;
      }
      const text = await store.get(layout.segment(tenant, batchId, modelIndex, s));
      // Ingest wrote it before the batch went in_progress: a retry cannot bring it back.
      if (!text) {
        throw ApplicationFailure.create({
          type: BATCH_DATA_INCONSISTENT,
          nonRetryable: true,
          message: `Input segment ${s} of model ${modelIndex} of ${batchId} is missing from storage.`,
        });
      }
      const journalKey = layout.journal(tenant, batchId, modelIndex, s);
      const journalText = (await store.get(journalKey))?.toString('utf8') ?? '';
      const finished = parseJournal(journalText);
      const seg: SegmentState = {
        index: s,
        remaining: 0,
        counts: zeroCounts(),
        journalKey,
        repair: journalRepairPrefix(journalText),
        appender: null,
      };
      const requests = parseSegment(text.toString('utf8'));
      for (const req of requests) {
        const entry = finished.get(req.customIdJson);
        if (entry) {
          countResult(seg.counts, entry.kind, entry.tokens, entry.tags);
          continue;
        }
        // A repeat of an earlier body is answered from that request's result at finalize — once
        // the bodies are confirmed equal (the ingest index is a hash; a collision is sent normally).
        const at = req.sameAs?.segment;
        if (at === s && requests[req.sameAs!.offset]?.body === req.body) continue;
        const job = { seg, req, answered: false };
        pending.push(job);
        if (at !== undefined && at !== s) {
          const list = elsewhere.get(at);
          if (list) list.push(job);
          else elsewhere.set(at, [job]);
        }
      }
      j.segments.push(seg);
    }
    for (const [at, repeats] of elsewhere) {
      const text = await store.get(layout.segment(tenant, batchId, modelIndex, at));
      const originals = text ? parseSegment(text.toString('utf8')) : [];
      for (const job of repeats) job.answered = originals[job.req.sameAs!.offset]?.body === job.req.body;
    }
    elsewhere.clear();
    for (const { seg, req, answered } of pending) {
      if (answered) continue;
      j.jobs.push({ seg, req });
      seg.remaining++;
    }
    for (const seg of j.segments) if (seg.remaining === 0) await j.markDone(seg);
    return j;
  }

  /**
   * Appends a request's result, after `attemptLines` (its journal attempt lines not yet written,
   * formatAttempt) in the same write, and marks the segment done after its last result. The lane
   * does not wait for the write: it sends its next request meanwhile, `settled` waits for every
   * write, and the first failed one is handed to `onWriteError` at once (the chunk then stops).
   * Resolves (never rejects) once written, or failed (`failed`).
   */
  record(
    job: Job,
    kind: ResultKind,
    tokens: TokenCounts,
    tags: string,
    line: string,
    attemptLines = '',
  ): Promise<void> {
    const write = this.write(job, kind, tokens, tags, line, attemptLines);
    this.writes.add(write);
    void write.then(() => this.writes.delete(write));
    return write;
  }

  /** A journal write has failed: the chunk stops (see `onWriteError`). */
  get failed(): boolean {
    return this.writeError !== null;
  }

  private async write(
    job: Job,
    kind: ResultKind,
    tokens: TokenCounts,
    tags: string,
    line: string,
    attemptLines: string,
  ): Promise<void> {
    const seg = job.seg;
    try {
      const appender = await this.appenderOf(seg);
      await appender.append(attemptLines + formatEntry(kind, job.req.customIdJson, tokens, tags, line));
      countResult(seg.counts, kind, tokens, tags);
      if (--seg.remaining === 0) await this.markDone(seg);
    } catch (err) {
      if (this.writeError) return;
      this.writeError = err instanceof Error ? err : new Error(String(err));
      this.onWriteError?.(this.writeError);
    }
  }

  /** Waits for every write `record` started; throws the first that failed. */
  async settled(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes);
    if (this.writeError) throw this.writeError;
  }

  /** Appends attempt lines of a request still running (a retried attempt), so a reader sees them now. */
  async recordAttempts(job: Job, attemptLines: string): Promise<void> {
    await (await this.appenderOf(job.seg)).append(attemptLines);
  }

  private appenderOf(seg: SegmentState): Promise<ObjectAppender> {
    if (!seg.appender) {
      const repair = seg.repair;
      seg.appender = this.store.openAppender(seg.journalKey).then(async (a) => {
        if (repair) await a.append(repair);
        return a;
      });
    }
    return seg.appender;
  }

  /** True when every request of the chunk has a result. */
  complete(): boolean {
    return this.segments.every((seg) => seg.remaining === 0);
  }

  /** Closes journals of segments left unfinished (cancelled, halted). */
  async close(): Promise<void> {
    for (const seg of this.segments)
      if (seg.remaining > 0 && seg.appender) await (await seg.appender).close();
  }

  /** Totals of the whole chunk: segments done before and every result of this attempt. */
  totals(): FullCounts {
    const total = zeroCounts();
    addCounts(total, this.previouslyDone);
    for (const seg of this.segments) addCounts(total, seg.counts);
    return total;
  }

  private async markDone(seg: SegmentState): Promise<void> {
    if (seg.appender) await (await seg.appender).close();
    const { tenant, batchId, modelIndex } = this.input;
    await this.store.put(
      layout.segmentDone(tenant, batchId, modelIndex, seg.index),
      JSON.stringify(seg.counts),
    );
  }
}
