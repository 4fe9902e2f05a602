// Two tiny SVG charts: a line over time (requests per second) and horizontal bars (outcomes).
import { h, s } from './dom';
import { count } from './format';

export interface Sample {
  /** Milliseconds since the page started watching. */
  t: number;
  value: number;
}

/** A line chart of the last samples, its y axis from 0 to the largest value; labelled for screen readers. */
export function lineChart(samples: Sample[], opts: { label: string; unit: string }): SVGSVGElement {
  const width = 420;
  const height = 150;
  const pad = { left: 40, right: 8, top: 12, bottom: 24 };
  const max = Math.max(1, ...samples.map((p) => p.value));
  const t0 = samples.length ? samples[0].t : 0;
  const span = Math.max(1000, samples.length ? samples[samples.length - 1].t - t0 : 0);
  const x = (t: number) => pad.left + ((t - t0) / span) * (width - pad.left - pad.right);
  const y = (v: number) => pad.top + (1 - v / max) * (height - pad.top - pad.bottom);
  const last = samples.length ? samples[samples.length - 1].value : 0;
  const peak = Math.max(0, ...samples.map((p) => p.value));
  const summary = `${opts.label}: now ${last.toFixed(1)} ${opts.unit}, peak ${peak.toFixed(1)} over the last ${Math.round(span / 1000)} s`;
  return s(
    'svg',
    { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': summary, class: 'chart' },
    s('title', {}, summary),
    s('line', { x1: pad.left, y1: y(0), x2: width - pad.right, y2: y(0), class: 'axis' }),
    s('line', { x1: pad.left, y1: pad.top, x2: pad.left, y2: y(0), class: 'axis' }),
    s(
      'text',
      { x: pad.left - 6, y: pad.top + 4, 'text-anchor': 'end', class: 'tick' },
      max.toFixed(max < 10 ? 1 : 0),
    ),
    s('text', { x: pad.left - 6, y: y(0), 'text-anchor': 'end', class: 'tick' }, '0'),
    s('text', { x: pad.left, y: height - 4, class: 'tick' }, `−${Math.round(span / 1000)} s`),
    s('text', { x: width - pad.right, y: height - 4, 'text-anchor': 'end', class: 'tick' }, 'now'),
    samples.length > 1
      ? s('polyline', {
          class: 'series',
          points: samples.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '),
        })
      : null,
  );
}

export interface Bar {
  label: string;
  value: number;
  /** A CSS class giving the bar its colour. */
  tone: string;
}

/** A table of labelled counts with a bar each, scaled to the largest: readable as a table, seen as a chart. */
export function barTable(bars: Bar[], caption: string): HTMLTableElement {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return h(
    'table',
    { class: 'bars' },
    h('caption', { class: 'visually-hidden' }, caption),
    h(
      'thead',
      { class: 'visually-hidden' },
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Outcome'),
        h('th', { scope: 'col' }, 'Requests'),
        h('th', { scope: 'col' }, 'Share'),
      ),
    ),
    h(
      'tbody',
      {},
      ...bars.map((b) =>
        h(
          'tr',
          { 'data-outcome': b.label },
          h('th', { scope: 'row' }, b.label),
          h('td', { class: 'num' }, count(b.value)),
          h(
            'td',
            { class: 'bar-cell', 'aria-hidden': 'true' },
            s(
              'svg',
              { viewBox: '0 0 100 10', preserveAspectRatio: 'none', class: 'hbar' },
              s('rect', { x: 0, y: 0, width: (b.value / max) * 100, height: 10, class: b.tone }),
            ),
          ),
        ),
      ),
    ),
  );
}

let progressIds = 0;

/** A bar segment; its width is set through the CSSOM, which the page's CSP allows (style attributes it does not). */
function segment(tone: string, width: string): HTMLSpanElement {
  const el = h('span', { class: tone });
  el.style.width = width;
  return el;
}

/**
 * A progress bar for one set of request counts: completed and failed as two segments, announced
 * as a progressbar with its label and both counts.
 */
export function progressRow(
  label: string,
  counts: { total: number; completed: number; failed: number },
): HTMLDivElement {
  const total = Math.max(0, counts.total);
  const done = counts.completed + counts.failed;
  const share = (n: number) => (total > 0 ? `${Math.min(100, (n / total) * 100).toFixed(2)}%` : '0%');
  const id = `progress-label-${++progressIds}`;
  const text = `${count(counts.completed)} completed, ${count(counts.failed)} failed, ${count(total)} total`;
  return h(
    'div',
    { class: 'progress-row', 'data-model': label },
    h('span', { id, class: 'progress-label' }, label),
    h(
      'div',
      {
        class: 'progress',
        role: 'progressbar',
        'aria-labelledby': id,
        'aria-valuemin': 0,
        'aria-valuemax': total,
        'aria-valuenow': done,
        'aria-valuetext': text,
      },
      segment('progress-completed', share(counts.completed)),
      segment('progress-failed', share(counts.failed)),
    ),
    h('span', { class: 'progress-text' }, text),
  );
}
