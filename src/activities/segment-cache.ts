import { isAscii } from 'node:buffer';
import { ApplicationFailure } from '@temporalio/common';
import { BATCH_DATA_INCONSISTENT } from '../domain/failures';
import { parseJournal, type JournalEntry } from '../records/journal';
import { parseSegment, type SegmentRequest } from '../records/segment';
import { layout } from '../storage/layout';
import type { ObjectStore } from '../storage/object-store';

/** One segment as finalize reads it: its requests in order and their journaled results. */
export interface LoadedSegment {
  requests: SegmentRequest[];
  results: Map<string, JournalEntry>;
}

/** Rough cost of a parsed request beyond its text (objects, map entry). */
const PER_REQUEST_OVERHEAD = 160;

/**
 * Heap bytes of `text`, decoded from `utf8`: V8 keeps one byte per character for ASCII text but,
 * once one character is beyond Latin-1, two for every character — a mostly-ASCII text with one
 * emoji costs about twice its UTF-8 size. Counted as two per UTF-16 unit unless the bytes are ASCII.
 */
export function heldBytes(utf8: Buffer, text: string): number {
  return isAscii(utf8) ? text.length : 2 * text.length;
}

/**
 * Parsed segments and journals of one model, the most recently used kept for requests whose body
 * repeats an earlier segment's (answered from that segment's result). Bounded by bytes, not by a
 * count: with large bodies a few segments can outweigh the heap. A segment larger than the whole
 * budget is still returned (the caller holds it while writing it) but never kept.
 */
export class SegmentCache {
  private readonly entries = new Map<number, { segment: LoadedSegment; bytes: number }>();
  private held = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly tenant: string,
    private readonly batchId: string,
    private readonly model: number,
    /** Bytes of segments kept at most. */
    private readonly budget: number,
  ) {}

  /** Bytes of the segments kept now. */
  get bytesHeld(): number {
    return this.held;
  }

  /** Segments kept now (least recently used first). */
  get kept(): number[] {
    return [...this.entries.keys()];
  }

  /** A segment, kept for later calls (within the budget): for the originals of repeated bodies. */
  async get(s: number): Promise<LoadedSegment> {
    const hit = this.entries.get(s);
    if (hit) {
      // Most recently used last: eviction takes from the front.
      this.entries.delete(s);
      this.entries.set(s, hit);
      return hit.segment;
    }
    const { segment, bytes } = await this.load(s);
    if (bytes <= this.budget) {
      for (const [k, e] of this.entries) {
        if (this.held + bytes <= this.budget) break;
        this.entries.delete(k);
        this.held -= e.bytes;
      }
      this.entries.set(s, { segment, bytes });
      this.held += bytes;
    }
    return segment;
  }

  /**
   * A segment, not kept: finalize's walk in order. Only segments a repeat refers to are kept
   * (by `get`), so a batch without repeated bodies holds no more than the segments it reads.
   */
  async read(s: number): Promise<LoadedSegment> {
    return this.entries.get(s)?.segment ?? (await this.load(s)).segment;
  }

  private async load(s: number): Promise<{ segment: LoadedSegment; bytes: number }> {
    const key = layout.segment(this.tenant, this.batchId, this.model, s);
    const text = await this.store.get(key);
    if (!text) {
      // Ingest wrote it before the batch ran: reading again cannot bring it back.
      throw ApplicationFailure.create({
        type: BATCH_DATA_INCONSISTENT,
        nonRetryable: true,
        message: `Batch ${this.batchId}: input segment ${s} of model ${this.model} is missing from storage (${key}).`,
      });
    }
    const journal = await this.store.get(layout.journal(this.tenant, this.batchId, this.model, s));
    const segmentText = text.toString('utf8');
    const journalText = journal?.toString('utf8') ?? '';
    const segment: LoadedSegment = {
      requests: parseSegment(segmentText),
      results: parseJournal(journalText),
    };
    // Parsed fields are slices of the texts (which they keep alive), so the texts are the cost —
    // as held in the heap, not as the bytes read.
    const bytes =
      heldBytes(text, segmentText) +
      (journal ? heldBytes(journal, journalText) : 0) +
      segment.requests.length * PER_REQUEST_OVERHEAD;
    return { segment, bytes };
  }
}
