// Each worker's share of the deployment-wide caps: counts the task queue's live pollers (DescribeTaskQueue) every few seconds.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { ConcurrencyLimits } from '../activities/runtime';
import type { Config } from '../config';
import { WARMING_UP, type WorkerShare } from '../gateway/cluster-share';

/** A worker identity unique in the deployment (the poller identity the census counts). */
export function workerIdentity(): string {
  return `${process.pid}@${hostname()}-${randomBytes(4).toString('hex')}`;
}

/** One poller the server lists: its identity, and when it last polled (ms, the server's clock). */
export interface PollerSighting {
  identity: string;
  lastAccessMs: number;
}

/** The pollers of the task queue, every type the workers poll. */
export type DescribePollers = () => Promise<PollerSighting[]>;

/** The deployment as one census saw it. */
export interface Tally {
  /** Live workers, this one included. */
  workers: number;
  /** This worker's place among the live identities, sorted. */
  rank: number;
  /** The server lists this worker's own poller: the others can see it too. */
  seenSelf: boolean;
}

/**
 * Live workers from the pollers the server lists. The server keeps a poller listed for minutes
 * after its worker died, so a poller counts as live only while it polled within `staleMs`; a live
 * but idle worker polls again each time its long poll expires (60 s on Temporal 1.29's defaults),
 * so `staleMs` must be longer than that. This worker always counts, listed or not.
 */
export function tally(self: string, pollers: PollerSighting[], now: number, staleMs: number): Tally {
  const live = new Set<string>([self]);
  let seenSelf = false;
  for (const p of pollers) {
    if (!p.identity) continue;
    if (p.identity === self) seenSelf = true;
    else if (now - p.lastAccessMs <= staleMs) live.add(p.identity);
  }
  // Plain code-unit order: every worker sorts the same identities the same way, whatever its locale.
  const sorted = [...live].sort();
  return { workers: sorted.length, rank: sorted.indexOf(self), seenSelf };
}

/** Where the census says what it does: a pino logger or the console. */
export interface CensusLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface CensusOptions {
  identity: string;
  describe: DescribePollers;
  /** Between two censuses (WORKER_CENSUS_INTERVAL_MS). */
  intervalMs: number;
  /** A poller silent for longer is gone (WORKER_CENSUS_STALE_MS). */
  staleMs: number;
  /** Resizes the caps (ConcurrencyLimits.setWorkerShare). */
  apply(share: WorkerShare): void;
  log: CensusLog;
  /**
   * Longest warm-up without a sighting of this worker's own poller (e.g. its polls land on a task
   * queue partition the census does not read) or without any census answer: then the worker takes
   * its share from what it knows, so a rate-limited model never waits forever. Default 10 intervals.
   */
  maxWarmUpMs?: number;
  /** False once the worker is shutting down: the loop ends without a word. */
  running?: () => boolean;
  now?: () => number;
}

/**
 * The census loop of one worker process. Every `intervalMs` it lists the task queue's pollers,
 * counts the live workers and ranks itself among them; the caller turns that into its part of each
 * cap (cluster-share.ts). Joining without overshoot: a worker cannot know when the others have seen
 * it, so from its start until 2 intervals after the first census that lists its own poller it runs
 * on one slot per cap and no rate budget (the others see it within one interval and shrink) —
 * unless that first census found no other worker at all: then there is nobody to overshoot with.
 * When a census fails (Temporal unreachable), the last share stays: never the whole cap.
 */
export class WorkerCensus {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private firstSeenAt: number | null = null;
  private aloneAtStart = false;
  private failing = false;
  private last: WorkerShare | null = null;
  private startedAt: number | null = null;
  private readonly now: () => number;

  constructor(private readonly opts: CensusOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** The latest share applied (null before the first census). */
  get share(): WorkerShare | null {
    return this.last;
  }

  /** Runs a census now and then every interval, until `stop` or the worker stops running. */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      await this.census();
      if (this.stopped || !this.isRunning()) return;
      // Until the server lists this worker's own poller (right after it starts polling), look again
      // soon: its share waits on that first sighting.
      const wait = this.firstSeenAt === null ? Math.min(this.opts.intervalMs, 200) : this.opts.intervalMs;
      this.timer = setTimeout(() => void loop(), wait);
      this.timer.unref();
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One census: list the pollers, count, apply the share. Never throws. */
  async census(): Promise<void> {
    this.startedAt ??= this.now();
    let pollers: PollerSighting[];
    try {
      pollers = await this.opts.describe();
    } catch (err) {
      if (this.last === null && this.warmUpOver(this.now())) {
        // No census ever answered: the caps of this worker become per process rather than a hang.
        this.opts.log.warn(
          `worker census has not answered for ${this.maxWarmUpMs()} ms (${(err as Error).message}): ` +
            `this worker takes the whole caps until it does`,
        );
        this.last = { workers: 1, rank: 0, warmingUp: false };
        this.opts.apply(this.last);
        this.failing = true;
        return;
      }
      if (!this.failing && this.isRunning() && !this.stopped)
        this.opts.log.warn(
          `worker census failed (${(err as Error).message}): keeping this worker's share of the caps ` +
            `(${this.describeShare(this.last)}) until Temporal answers again`,
        );
      this.failing = true;
      return;
    }
    if (this.failing) {
      this.failing = false;
      this.opts.log.info('worker census: Temporal answers again');
    }
    const now = this.now();
    const t = tally(this.opts.identity, pollers, now, this.opts.staleMs);
    if (this.firstSeenAt === null && t.seenSelf) {
      this.firstSeenAt = now;
      this.aloneAtStart = t.workers === 1;
    }
    const warmingUp =
      this.firstSeenAt === null
        ? !this.warmUpOver(now)
        : !this.aloneAtStart && now - this.firstSeenAt < 2 * this.opts.intervalMs;
    const share: WorkerShare = { workers: t.workers, rank: t.rank, warmingUp };
    const prev = this.last;
    this.last = share;
    this.opts.apply(share);
    if (!prev || prev.workers !== share.workers || prev.warmingUp !== share.warmingUp)
      this.opts.log.info(`worker census: ${this.describeShare(share)}`);
  }

  private maxWarmUpMs(): number {
    return this.opts.maxWarmUpMs ?? 10 * this.opts.intervalMs;
  }

  /** The warm-up without a sighting of this worker has lasted its longest. */
  private warmUpOver(now: number): boolean {
    return this.startedAt !== null && now - this.startedAt >= this.maxWarmUpMs();
  }

  private isRunning(): boolean {
    return this.opts.running ? this.opts.running() : true;
  }

  private describeShare(share: WorkerShare | null): string {
    if (!share) return 'one slot per cap, no rate budget: no census yet';
    const of = `${share.workers} live worker${share.workers === 1 ? '' : 's'}, this one ranked ${share.rank}`;
    return share.warmingUp ? `${of}, warming up (one slot per cap)` : of;
  }
}

// temporal.api.enums.v1 values (TaskQueueType WORKFLOW = 1, ACTIVITY = 2; TaskQueueKind NORMAL = 1),
// written out so that the census needs no direct dependency on @temporalio/proto.
const TASK_QUEUE_TYPES = [1, 2] as const;
const TASK_QUEUE_KIND_NORMAL = 1;

/**
 * The pollers of `taskQueue`'s workflow and activity queues (root partition), over the worker's own
 * connection (its TLS, API key and namespace). Each call has a deadline, so a hung server does not
 * stall the loop.
 */
export function describePollersVia(
  connection: Pick<NativeConnection, 'workflowService' | 'withDeadline'>,
  namespace: string,
  taskQueue: string,
  timeoutMs: number,
): DescribePollers {
  return async () => {
    const answers = await Promise.all(
      TASK_QUEUE_TYPES.map((taskQueueType) =>
        connection.withDeadline(Date.now() + timeoutMs, () =>
          connection.workflowService.describeTaskQueue({
            namespace,
            taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
            taskQueueType,
          }),
        ),
      ),
    );
    return answers.flatMap((a) =>
      (a.pollers ?? []).map((p) => ({
        identity: p.identity ?? '',
        lastAccessMs:
          Number(p.lastAccessTime?.seconds ?? 0) * 1000 + Math.floor((p.lastAccessTime?.nanos ?? 0) / 1e6),
      })),
    );
  };
}

/** States in which the worker no longer polls: the census ends with it. */
const ENDED = new Set(['STOPPING', 'DRAINING', 'DRAINED', 'STOPPED', 'FAILED']);

/**
 * Starts the census of a worker (created with `identity`, not yet running) and resizes `limits`
 * with every census; null when WORKER_CENSUS_INTERVAL_MS is 0 (then the caps stay per process).
 * It ends by itself once the worker stops.
 */
export function startWorkerCensus(opts: {
  config: Pick<
    Config,
    'TEMPORAL_NAMESPACE' | 'TEMPORAL_TASK_QUEUE' | 'WORKER_CENSUS_INTERVAL_MS' | 'WORKER_CENSUS_STALE_MS'
  >;
  connection: Pick<NativeConnection, 'workflowService' | 'withDeadline'>;
  identity: string;
  limits: Pick<ConcurrencyLimits, 'setWorkerShare'>;
  worker: Pick<Worker, 'getState'>;
  log?: CensusLog;
}): WorkerCensus | null {
  const { config } = opts;
  const intervalMs = config.WORKER_CENSUS_INTERVAL_MS;
  if (intervalMs === 0) return null;
  opts.limits.setWorkerShare(WARMING_UP);
  const census = new WorkerCensus({
    identity: opts.identity,
    describe: describePollersVia(
      opts.connection,
      config.TEMPORAL_NAMESPACE,
      config.TEMPORAL_TASK_QUEUE,
      Math.max(1000, intervalMs),
    ),
    intervalMs,
    staleMs: config.WORKER_CENSUS_STALE_MS,
    apply: (share) => opts.limits.setWorkerShare(share),
    // Without a logger: warnings only (the in-process test stacks would print every census change).
    log: opts.log ?? { info: () => undefined, warn: (m) => console.warn(m) },
    running: () => !ENDED.has(opts.worker.getState()),
  });
  census.start();
  return census;
}
