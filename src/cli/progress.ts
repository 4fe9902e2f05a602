// Live progress of a batch: a redrawing bar on a terminal (cli-progress), plain lines otherwise.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { countsOf, finalLine, governanceLine, statusLabel, type GatewayBatch } from './batch-view';
import { formatDuration, formatRate, RateMeter } from './rate';

export interface ProgressView {
  /** Shows the batch as just polled. */
  update(batch: GatewayBatch): void;
  /** The batch ended: last frame, then its final line. */
  finish(batch: GatewayBatch): void;
  /** Interrupted: leave the terminal as it was (cursor shown, line wrapping on). */
  stop(): void;
}

/** A bar when `stream` is a terminal, else one plain line per change. */
export function progressViewFor(stream: NodeJS.WriteStream, now: () => number = Date.now): ProgressView {
  return stream.isTTY ? new BarView(stream, now) : new LineView(stream, now);
}

/** The figures both views show, as text. */
interface Frame {
  done: number;
  total: number;
  percent: string;
  completed: number;
  failed: number;
  rate: string;
  eta: string;
  state: string;
  governance: string | null;
}

function frameOf(batch: GatewayBatch, meter: RateMeter): Frame {
  const { total, completed, failed, done } = countsOf(batch);
  meter.add(done);
  const paused = batch.x_paused_at != null;
  return {
    done,
    total,
    percent: total ? `${Math.floor((done / total) * 100)}%` : '-%',
    completed,
    failed,
    rate: formatRate(meter.perSecond()),
    // A paused batch starts nothing: no time left to promise.
    eta: paused ? 'paused' : formatDuration(total ? meter.etaSeconds(total) : null),
    state: statusLabel(batch),
    governance: governanceLine(batch),
  };
}

const BAR_FORMAT =
  '{bar} {done}/{total} {percent} | completed {completed} · failed {failed} | {rate} | ETA {eta} | {state}';

class BarView implements ProgressView {
  private readonly meter: RateMeter;
  private readonly bars: MultiBar;
  private counts: SingleBar | null = null;
  private outcomes: SingleBar | null = null;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    now: () => number,
  ) {
    this.meter = new RateMeter(now);
    this.bars = new MultiBar(
      {
        stream,
        format: BAR_FORMAT,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
        // We handle Ctrl-C (stop, then exit 130); cli-progress' handler would swallow it.
        gracefulExit: false,
        fps: 10,
      },
      Presets.shades_classic,
    );
  }

  update(batch: GatewayBatch): void {
    const frame = frameOf(batch, this.meter);
    // cli-progress divides by the total: a batch still counting its lines shows an empty bar.
    const total = Math.max(frame.total, 1);
    if (!this.counts) {
      this.counts = this.bars.create(total, frame.done, frame);
      // The governance outcomes on a line of their own, so the first line fits 80 columns.
      if (frame.governance !== null)
        this.outcomes = this.bars.create(1, 0, frame, { format: '  {governance}' });
      return;
    }
    this.counts.setTotal(total);
    this.counts.update(frame.done, frame);
    this.outcomes?.update(0, frame);
  }

  finish(batch: GatewayBatch): void {
    this.update(batch);
    this.bars.stop();
    this.stream.write(`${finalLine(batch)}\n`);
  }

  stop(): void {
    this.bars.stop();
  }
}

/** Without a terminal, at most one line per this many ms, unless the status changes. */
const PLAIN_GAP_MS = 3000;

class LineView implements ProgressView {
  private readonly meter: RateMeter;
  private printedKey = '';
  private printedStatus = '';
  private printedAt = -Infinity;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly now: () => number,
  ) {
    this.meter = new RateMeter(now);
  }

  update(batch: GatewayBatch, force = false): void {
    const frame = frameOf(batch, this.meter);
    // What counts as a change: the rate and ETA move on every poll and are not one.
    const key = `${frame.state}|${frame.done}|${frame.total}|${frame.governance}`;
    if (key === this.printedKey) return;
    const statusChanged = frame.state !== this.printedStatus;
    if (!force && !statusChanged && this.now() - this.printedAt < PLAIN_GAP_MS) return;
    this.printedKey = key;
    this.printedStatus = frame.state;
    this.printedAt = this.now();
    const time = new Date(this.printedAt).toISOString().slice(11, 19);
    const outcomes = frame.governance ? ` | ${frame.governance}` : '';
    this.stream.write(
      `${time} ${batch.id} ${frame.state} ${frame.done}/${frame.total} ${frame.percent} ` +
        `completed ${frame.completed} · failed ${frame.failed} | ${frame.rate} | ETA ${frame.eta}${outcomes}\n`,
    );
  }

  finish(batch: GatewayBatch): void {
    this.update(batch, true);
    this.stream.write(`${finalLine(batch)}\n`);
  }

  stop(): void {}
}
