// The batches list: newest first, a status filter, pages by the API's cursor (`after`, `has_more`).
import { api, ApiFailure } from './api';
import { announce, fill, h } from './dom';
import { count, statusText, when } from './format';
import type { ConsoleBatch } from './types';

const STATUSES = [
  'validating',
  'in_progress',
  'finalizing',
  'completed',
  'failed',
  'expired',
  'cancelling',
  'cancelled',
];
const PAGE_SIZES = [10, 20, 50, 100];
/** A filtered page reads at most this many API pages of 100 (the API has no status filter). */
const MAX_SCANNED_PAGES = 20;

/** The model(s) of a batch: per-model counts when the API has them, else its `model`. */
export function modelsOf(batch: ConsoleBatch): string {
  const models = batch.x_models?.map((m) => m.model) ?? (batch.model ? [batch.model] : []);
  return models.length ? models.join(', ') : '—';
}

export function statusBadge(batch: Pick<ConsoleBatch, 'status' | 'x_paused_at'>): HTMLElement {
  const paused = batch.x_paused_at !== null && batch.x_paused_at !== undefined;
  return h(
    'span',
    { class: `badge status-${batch.status}${paused ? ' paused' : ''}`, 'data-status': batch.status },
    statusText(batch.status),
    paused ? h('span', { class: 'badge-note' }, ' · paused') : null,
  );
}

interface Page {
  batches: ConsoleBatch[];
  /** The cursor of the next page, when there is one. */
  next: string | null;
  scanned: number;
}

/** One page: straight from the API, or, filtered, matching batches gathered from as many API pages as it takes. */
async function loadPage(status: string, size: number, after: string | null): Promise<Page> {
  if (!status) {
    const page = await api.listBatches(size, after);
    return { batches: page.data, next: page.has_more ? page.last_id : null, scanned: page.data.length };
  }
  const batches: ConsoleBatch[] = [];
  let cursor = after;
  let scanned = 0;
  for (let i = 0; i < MAX_SCANNED_PAGES; i++) {
    const page = await api.listBatches(100, cursor);
    for (const [j, b] of page.data.entries()) {
      scanned++;
      cursor = b.id;
      if (b.status === status) batches.push(b);
      if (batches.length === size) {
        const more = j < page.data.length - 1 || page.has_more;
        return { batches, next: more ? cursor : null, scanned };
      }
    }
    if (!page.has_more) return { batches, next: null, scanned };
  }
  return { batches, next: cursor, scanned };
}

export function showBatchesList(root: HTMLElement): () => void {
  const filter = h(
    'select',
    { id: 'status-filter', name: 'status' },
    h('option', { value: '' }, 'All statuses'),
    ...STATUSES.map((st) => h('option', { value: st }, statusText(st))),
  );
  const sizeSelect = h(
    'select',
    { id: 'page-size', name: 'limit' },
    ...PAGE_SIZES.map((n) => h('option', { value: n, selected: n === 20 }, String(n))),
  );
  const refresh = h('button', { type: 'button' }, 'Refresh');
  const prev = h('button', { type: 'button', id: 'page-prev' }, 'Previous page');
  const next = h('button', { type: 'button', id: 'page-next' }, 'Next page');
  const pageInfo = h('p', { class: 'page-info' });
  const body = h('div', { id: 'batches-table' });
  // The cursors of the pages before this one (null: the first page); `current` is this page's.
  const before: (string | null)[] = [];
  let current: string | null = null;
  let following: string | null = null;
  let alive = true;
  // Each load's number: an answer to an older load (a filter changed meanwhile) is dropped.
  let loads = 0;

  async function load(): Promise<void> {
    const mine = ++loads;
    fill(body, h('p', { class: 'loading' }, 'Loading batches…'));
    try {
      const page = await loadPage(filter.value, Number(sizeSelect.value), current);
      if (!alive || mine !== loads) return;
      following = page.next;
      prev.disabled = before.length === 0;
      next.disabled = following === null;
      const filtered = filter.value
        ? ` with status ${statusText(filter.value)} (${count(page.scanned)} read)`
        : '';
      pageInfo.textContent = `Page ${before.length + 1}: ${count(page.batches.length)} batches${filtered}.`;
      fill(body, page.batches.length ? table(page.batches) : h('p', {}, 'No batches here yet.'));
      announce(pageInfo.textContent);
    } catch (err) {
      if (!alive || mine !== loads) return;
      fill(
        body,
        h('p', { class: 'error', role: 'alert' }, `Could not list batches: ${(err as ApiFailure).message}`),
      );
    }
  }
  const restart = () => {
    before.length = 0;
    current = null;
    void load();
  };
  filter.addEventListener('change', restart);
  sizeSelect.addEventListener('change', restart);
  refresh.addEventListener('click', () => void load());
  next.addEventListener('click', () => {
    if (following === null) return;
    before.push(current);
    current = following;
    void load();
  });
  prev.addEventListener('click', () => {
    if (!before.length) return;
    current = before.pop() ?? null;
    void load();
  });

  fill(
    root,
    h(
      'section',
      { 'aria-labelledby': 'batches-heading' },
      h(
        'div',
        { class: 'section-head' },
        h('h1', { id: 'batches-heading' }, 'Batches'),
        h('a', { href: '#/new', class: 'button primary' }, 'New batch'),
      ),
      h(
        'div',
        { class: 'toolbar' },
        h('label', { for: 'status-filter' }, 'Status'),
        filter,
        h('label', { for: 'page-size' }, 'Per page'),
        sizeSelect,
        refresh,
      ),
      body,
      h('nav', { class: 'pager', 'aria-label': 'Pages of batches' }, prev, pageInfo, next),
    ),
  );
  void load();
  return () => {
    alive = false;
  };
}

function table(batches: ConsoleBatch[]): HTMLTableElement {
  return h(
    'table',
    { class: 'list' },
    h('caption', { class: 'visually-hidden' }, 'Batches, newest first'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Batch', 'Status', 'Model(s)', 'Completed', 'Failed', 'Total', 'Created', 'Deadline'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    h(
      'tbody',
      {},
      ...batches.map((b) =>
        h(
          'tr',
          { 'data-batch-id': b.id },
          h(
            'th',
            { scope: 'row' },
            h('a', { href: `#/batches/${encodeURIComponent(b.id)}`, class: 'mono' }, b.id),
          ),
          h('td', {}, statusBadge(b)),
          h('td', {}, modelsOf(b)),
          h('td', { class: 'num' }, count(b.request_counts.completed)),
          h('td', { class: 'num' }, count(b.request_counts.failed)),
          h('td', { class: 'num' }, count(b.request_counts.total)),
          h('td', {}, when(b.created_at)),
          h('td', {}, when(b.expires_at)),
        ),
      ),
    ),
  );
}
