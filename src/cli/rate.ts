// Throughput and time left of a running batch, from the counts seen at each poll.

/** Samples older than this leave the window: the rate follows the batch's recent pace. */
const WINDOW_MS = 15_000;

export class RateMeter {
  private readonly samples: { at: number; done: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Records the number of requests done at this moment. */
  add(done: number): void {
    const at = this.now();
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0].at > WINDOW_MS) this.samples.shift();
  }

  /** Requests per second over the window; null until two samples a moment apart exist. */
  perSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    const seconds = (last.at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, last.done - first.done) / seconds : null;
  }

  /** Seconds until `total` at the current rate; null when unknown (no rate yet, or none). */
  etaSeconds(total: number): number | null {
    const rate = this.perSecond();
    const last = this.samples[this.samples.length - 1];
    if (!rate || !last) return null;
    return Math.max(0, total - last.done) / rate;
  }
}

/** `12.3 req/s`, or `- req/s` before a rate exists. */
export function formatRate(rate: number | null): string {
  if (rate === null) return '- req/s';
  return `${rate >= 100 ? Math.round(rate) : rate.toFixed(1)} req/s`;
}

/** `45s`, `3m05s`, `2h03m`, or `-` when unknown. */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
