import { modelConcurrency, type Config } from '../../config';
import type { ModelPlan } from '../../workflows/types';

/** Chunks per batch we aim for at most, so progress signals stay well under Temporal's limits. */
const TARGET_MAX_CHUNKS = 1000;
/**
 * A chunk holds about this many rounds of the model's concurrency: each chunk costs an activity, a
 * progress signal and their workflow tasks (~13 history events, a few ms of CPU in the worker and
 * the server), which per request is noise at 5 rounds and was the largest overhead at 100 requests.
 */
const CHUNK_ROUNDS = 5;
/** …but each worker gets at least this many chunks, so work spreads and progress moves in steps. */
const MIN_CHUNKS_PER_WORKER = 16;

/** What ingest knows of one model's shard once every line is written. */
export interface ShardSize {
  index: number;
  model: string;
  requests: number;
  segments: number;
}

/**
 * How the batch's segments are cut into chunk activities, and how many chunks each model keeps in
 * flight. `workers`: live workers now (the census; 1 when it is off).
 */
export function planChunks(
  config: Pick<
    Config,
    'CHUNK_REQUESTS' | 'GLOBAL_CONCURRENCY' | 'MODEL_CONCURRENCY' | 'MODEL_CONCURRENCY_OVERRIDES'
  >,
  shards: ShardSize[],
  workers: number,
): { models: ModelPlan[]; segmentsPerChunk: number } {
  const totalSegments = shards.reduce((n, s) => n + s.segments, 0);
  const concurrency = Math.max(
    0,
    ...shards.map((s) => Math.min(modelConcurrency(config, s.model), config.GLOBAL_CONCURRENCY)),
  );
  // Requests per segment: one size a batch (ingest.ts), the last of each model's maybe short.
  const requests = shards.reduce((n, s) => n + s.requests, 0);
  const segmentRequests = Math.max(1, Math.round(requests / Math.max(1, totalSegments)));
  const byConcurrency = Math.ceil((CHUNK_ROUNDS * concurrency) / segmentRequests);
  const bySpread = Math.floor(totalSegments / (MIN_CHUNKS_PER_WORKER * Math.max(1, workers)));
  const chosen = config.CHUNK_REQUESTS
    ? Math.ceil(config.CHUNK_REQUESTS / segmentRequests)
    : Math.min(byConcurrency, bySpread);
  const segmentsPerChunk = Math.max(1, Math.ceil(totalSegments / TARGET_MAX_CHUNKS), chosen);
  const chunkRequests = segmentsPerChunk * segmentRequests;
  // The activities of a window go to any live worker, so two chunks in flight per worker, on top of
  // what fills the cap, keep every worker's share busy.
  const models: ModelPlan[] = shards.map((s) => ({
    index: s.index,
    model: s.model,
    requests: s.requests,
    segments: s.segments,
    // Enough chunks in flight to keep the model's concurrency busy across chunk boundaries, on every worker.
    window: Math.min(
      64,
      Math.ceil(Math.min(modelConcurrency(config, s.model), config.GLOBAL_CONCURRENCY) / chunkRequests) +
        2 * workers,
    ),
  }));
  return { models, segmentsPerChunk };
}
