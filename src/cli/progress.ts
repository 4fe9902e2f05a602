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

/** The figures both views show, as text (names unlike cli-progress' own `total`, `eta`…). */
interface Frame {
  done: number;
  requests: number;
  percent: string;
  completed: number;
  failed: number;
  rate: string;
  time_left: string;
  state: string;
  governance: string | null;
}

function frameOf(batch: GatewayBatch, meter: RateMeter): Frame {
  const { total, completed, failed, done } = countsOf(batch);
  meter.add(done);
  const paused = batch.x_paused_at != null;
  return {
    done,
    requests: total,
    percent: total ? `${Math.floor((done / total) * 100)}%` : '-%',
    completed,
    failed,
    rate: formatRate(meter.perSecond()),
    // A paused batch starts nothing: no time left to promise.
    time_left: paused ? 'paused' : formatDuration(total ? meter.etaSeconds(total) : null),
    state: statusLabel(batch),
    governance: governanceLine(batch),
  };
}

/** Three short lines rather than one long one: each fits 80 columns with 5-digit counts. */
const BAR_FORMAT = '{bar} {percent} {done}/{requests} · {rate} · ETA {time_left}';
const COUNTS_FORMAT = '  {state}: completed {completed} · failed {failed}';
const OUTCOMES_FORMAT = '  {governance}';

class BarView implements ProgressView {
  private readonly meter: RateMeter;
  private readonly multi: MultiBar;
  private rows: { bar: SingleBar; value: (frame: Frame) => number }[] = [];

  constructor(
    private readonly stream: NodeJS.WriteStream,
    now: () => number,
  ) {
    this.meter = new RateMeter(now);
    this.multi = new MultiBar(
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
    const total = Math.max(frame.requests, 1);
    if (!this.rows.length) {
      const text = (format: string) => ({ bar: this.multi.create(1, 0, frame, { format }), value: () => 0 });
      this.rows.push({ bar: this.multi.create(total, frame.done, frame), value: (f) => f.done });
      this.rows.push(text(COUNTS_FORMAT));
      // A server without our governance counts gets no third line.
      if (frame.governance !== null) this.rows.push(text(OUTCOMES_FORMAT));
      return;
    }
    this.rows[0].bar.setTotal(total);
    for (const row of this.rows) row.bar.update(row.value(frame), frame);
  }

  finish(batch: GatewayBatch): void {
    this.update(batch);
    this.multi.stop();
    this.stream.write(`${finalLine(batch)}\n`);
  }

  stop(): void {
    this.multi.stop();
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
    const key = `${frame.state}|${frame.done}|${frame.requests}|${frame.governance}`;
    if (key === this.printedKey) return;
    const statusChanged = frame.state !== this.printedStatus;
    if (!force && !statusChanged && this.now() - this.printedAt < PLAIN_GAP_MS) return;
    this.printedKey = key;
    this.printedStatus = frame.state;
    this.printedAt = this.now();
    const time = new Date(this.printedAt).toISOString().slice(11, 19);
    const outcomes = frame.governance ? ` | ${frame.governance}` : '';
    this.stream.write(
      `${time} ${batch.id} ${frame.state} ${frame.done}/${frame.requests} ${frame.percent} ` +
        `completed ${frame.completed} · failed ${frame.failed} | ${frame.rate} | ETA ${frame.time_left}${outcomes}\n`,
    );
  }

  finish(batch: GatewayBatch): void {
    this.update(batch, true);
    this.stream.write(`${finalLine(batch)}\n`);
  }

  stop(): void {}
}
