// A record by custom_id: its state, every attempt at the gateway, and its final output or error line.
import { api, type ApiFailure } from './api';
import { fill, h } from './dom';
import { whenMs } from './format';
import type { RecordView } from './types';

/** Columns whose cells are right-aligned numbers (their headers too). */
const NUMERIC = new Set(['Duration', 'HTTP status', 'Retry-After']);

export function recordLookup(batchId: string): HTMLElement {
  const input = h('input', {
    id: 'custom-id',
    name: 'custom_id',
    autocomplete: 'off',
    required: true,
    spellcheck: 'false',
  });
  const result = h('div', { id: 'record-result', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'record-form', class: 'inline-form', novalidate: true },
    h('label', { for: 'custom-id' }, 'custom_id'),
    input,
    h('button', { type: 'submit' }, 'Look up'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const customId = input.value;
    if (!customId) {
      fill(result, h('p', { class: 'error', role: 'alert' }, 'Enter a custom_id.'));
      input.focus();
      return;
    }
    fill(result, h('p', { class: 'loading' }, `Looking up ${customId}…`));
    api.record(batchId, customId).then(
      (view) => fill(result, recordDetails(view)),
      (err: ApiFailure) =>
        fill(
          result,
          h(
            'p',
            { class: 'error', role: 'alert' },
            err.code === 'request_not_found'
              ? `No request '${customId}' in this batch (yet): ${err.message}`
              : `Could not look it up: ${err.message}`,
          ),
        ),
    );
  });
  return h(
    'section',
    { 'aria-labelledby': 'record-heading', class: 'card wide' },
    h('h2', { id: 'record-heading' }, 'Look up a request'),
    form,
    result,
  );
}

function recordDetails(view: RecordView): HTMLElement {
  const attempts = view.attempts.length
    ? h(
        'table',
        { class: 'list', id: 'attempts' },
        h('caption', {}, `Attempts of ${view.custom_id}`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['#', 'Started', 'Duration', 'HTTP status', 'Error', 'Retry-After'].map((c) =>
              h('th', { scope: 'col', class: NUMERIC.has(c) ? 'num' : null }, c),
            ),
          ),
        ),
        h(
          'tbody',
          {},
          ...view.attempts.map((a) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, String(a.attempt)),
              h('td', {}, whenMs(a.started_at_ms)),
              h('td', { class: 'num' }, `${a.duration_ms} ms`),
              h('td', { class: 'num' }, a.status_code === null ? '—' : String(a.status_code)),
              h('td', {}, a.error ? `${a.error.code}: ${a.error.message}` : '—'),
              h('td', { class: 'num' }, a.retry_after_ms === null ? '—' : `${a.retry_after_ms} ms`),
            ),
          ),
        ),
      )
    : h('p', {}, 'No attempt yet.');
  return h(
    'div',
    { class: 'record' },
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'custom_id'),
      h('dd', { class: 'mono' }, view.custom_id),
      h('dt', {}, 'Model'),
      h('dd', {}, view.model),
      h('dt', {}, 'State'),
      h('dd', { id: 'record-state' }, view.state.replace('_', ' ')),
      h('dt', {}, 'In file'),
      h('dd', {}, view.result_file ?? '—'),
    ),
    attempts,
    h('h3', {}, 'Final line'),
    view.result
      ? h(
          'pre',
          { id: 'record-line', class: 'json', tabindex: 0, 'aria-label': 'Final line (JSON)' },
          JSON.stringify(view.result, null, 2),
        )
      : h('p', { id: 'record-line' }, 'Not written yet.'),
  );
}
