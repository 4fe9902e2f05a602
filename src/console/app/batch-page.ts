// One batch, polled every second: progress per model, requests per second, governance outcomes,
// usage and budget, timestamps, validation errors, the Web UI link, actions and a record lookup.
import { api, type ApiFailure } from './api';
import { modelsOf, statusBadge } from './batches-list';
import { barTable, lineChart, progressRow, type Sample } from './charts';
import { announce, fill, h } from './dom';
import { count, isTerminal, percent, statusText, when } from './format';
import { recordLookup } from './record-lookup';
import type { ConsoleBatch, ConsoleSettings } from './types';

const POLL_MS = 1000;
/** Two minutes of samples at one a second. */
const MAX_SAMPLES = 120;
const PAUSABLE = new Set(['validating', 'in_progress']);
const CANCELLABLE = new Set(['validating', 'in_progress', 'finalizing']);

export function webUiLinks(settings: ConsoleSettings, batchId: string): HTMLElement {
  const base = `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}`;
  const query = encodeURIComponent(`BatchId = '${batchId}'`);
  return h(
    'p',
    { class: 'links' },
    // The workflow id of a batch created through this API is its batch id.
    h(
      'a',
      {
        id: 'web-ui-link',
        href: `${base}/workflows/${encodeURIComponent(batchId)}`,
        target: '_blank',
        rel: 'noopener noreferrer',
      },
      'Workflow in the Temporal Web UI',
    ),
    ' · ',
    // A batch started from Temporal has the workflow id its starter chose: found by its BatchId.
    h(
      'a',
      { href: `${base}/workflows?query=${query}`, target: '_blank', rel: 'noopener noreferrer' },
      'Find it by BatchId',
    ),
  );
}

function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'visually-hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** Renders into `el` only when `key` changed: regions with links keep their focus between polls. */
function region(el: HTMLElement) {
  let last = '';
  return (key: string, render: () => (Node | null)[]) => {
    if (key === last) return;
    last = key;
    fill(el, ...render());
  };
}

export function showBatchPage(root: HTMLElement, batchId: string, settings: ConsoleSettings): () => void {
  let alive = true;
  let timer: number | undefined;
  let batch: ConsoleBatch | null = null;
  let previous: { t: number; done: number } | null = null;
  const started = performance.now();
  const samples: Sample[] = [];

  const badge = h('span', { id: 'batch-status' });
  const message = h('p', { id: 'action-message', role: 'status' });
  const problem = h('p', { id: 'batch-error', class: 'error', role: 'alert' });
  const pauseButton = h('button', { type: 'button', id: 'pause-button' }, 'Pause');
  const cancelButton = h('button', { type: 'button', id: 'cancel-button', class: 'danger' }, 'Cancel batch');
  const replayButton = h('button', { type: 'button', id: 'replay-button' }, 'Replay failures');
  const outputButton = h('button', { type: 'button', id: 'download-output' }, 'Download output file');
  const errorButton = h('button', { type: 'button', id: 'download-errors' }, 'Download error file');
  const partialButton = h('button', { type: 'button', id: 'download-results' }, 'Download results so far');

  const progress = h('div', { id: 'progress' });
  const rate = h('div', { id: 'rate-chart' });
  const governance = h('div', { id: 'governance' });
  const usage = h('div', { id: 'usage' });
  const times = h('div', { id: 'timestamps' });
  const details = h('div', { id: 'details' });
  const errors = h('div', { id: 'validation-errors' });
  const renderDetails = region(details);
  const renderErrors = region(errors);
  const renderTimes = region(times);
  const renderUsage = region(usage);
  const renderGovernance = region(governance);
  const renderProgress = region(progress);

  const card = (id: string, title: string, ...body: Node[]) =>
    h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...body);

  fill(
    root,
    h(
      'article',
      { 'aria-labelledby': 'batch-heading' },
      h('p', {}, h('a', { href: '#/' }, '← All batches')),
      h('div', { class: 'section-head' }, h('h1', { id: 'batch-heading', class: 'mono' }, batchId), badge),
      webUiLinks(settings, batchId),
      h(
        'div',
        { class: 'toolbar', role: 'group', 'aria-label': 'Actions' },
        pauseButton,
        cancelButton,
        replayButton,
        outputButton,
        errorButton,
        partialButton,
      ),
      message,
      problem,
      h(
        'div',
        { class: 'grid' },
        card('progress-heading', 'Progress', progress),
        card('rate-heading', 'Requests per second', rate),
        card('governance-heading', 'Governance outcomes', governance),
        card('usage-heading', 'Usage and budget', usage),
        card('times-heading', 'Timestamps', times),
        card('details-heading', 'Details', details),
      ),
      errors,
      recordLookup(batchId),
    ),
  );

  async function act(label: string, run: () => Promise<unknown>): Promise<void> {
    problem.textContent = '';
    message.textContent = `${label}…`;
    try {
      await run();
      message.textContent = `${label}: done.`;
    } catch (err) {
      message.textContent = '';
      problem.textContent = `${label} failed: ${(err as ApiFailure).message}`;
    }
    await poll(false);
  }
  pauseButton.addEventListener('click', () => {
    const paused = batch?.x_paused_at != null;
    void act(paused ? 'Resume' : 'Pause', () => (paused ? api.resume(batchId) : api.pause(batchId)));
  });
  cancelButton.addEventListener('click', () => {
    if (!window.confirm(`Cancel ${batchId}? Requests not yet sent will not run.`)) return;
    void act('Cancel', () => api.cancel(batchId));
  });
  replayButton.addEventListener('click', () => {
    void act('Replay failures', async () => {
      const replay = await api.replay(batchId);
      location.hash = `#/batches/${encodeURIComponent(replay.id)}`;
    });
  });
  const fetchFile = (kind: 'output' | 'error', id: string | null | undefined) => {
    if (!id) return;
    void act(`Download ${kind} file`, async () =>
      download(await api.fileContent(id), `${batchId}_${kind}.jsonl`),
    );
  };
  partialButton.addEventListener('click', () => {
    void act('Download results so far', async () =>
      download(await api.results(batchId), `${batchId}_results_so_far.jsonl`),
    );
  });
  outputButton.addEventListener('click', () => fetchFile('output', batch?.output_file_id));
  errorButton.addEventListener('click', () => fetchFile('error', batch?.error_file_id));

  function render(b: ConsoleBatch): void {
    fill(badge, statusBadge(b));
    const paused = b.x_paused_at != null;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    pauseButton.disabled = !PAUSABLE.has(b.status);
    cancelButton.disabled = !CANCELLABLE.has(b.status);
    replayButton.disabled = !(isTerminal(b.status) && b.request_counts.failed > 0 && b.error_file_id);
    outputButton.disabled = !b.output_file_id;
    errorButton.disabled = !b.error_file_id;
    // Once the files exist they hold every line; before, the lines finished so far.
    partialButton.hidden = b.output_file_id !== null || b.error_file_id !== null;
    partialButton.disabled = b.status === 'validating';

    const c = b.request_counts;
    renderProgress(JSON.stringify([c, b.x_models, b.status]), () => [
      progressRow('All models', c),
      ...(b.x_models ?? []).map((m) => progressRow(m.model, m.request_counts)),
      b.x_models
        ? null
        : h('p', { class: 'help' }, `Model: ${modelsOf(b)} (per-model counts once the input is read).`),
    ]);
    fill(rate, lineChart(samples, { label: 'Requests finished per second', unit: 'requests/s' }));

    const g = b.x_governance;
    renderGovernance(JSON.stringify(g), () => [
      barTable(
        [
          { label: 'succeeded', value: g.succeeded, tone: 'tone-ok' },
          { label: 'blocked', value: g.blocked, tone: 'tone-bad' },
          { label: 'flagged', value: g.flagged, tone: 'tone-warn' },
          { label: 'errored', value: g.errored, tone: 'tone-bad' },
          { label: 'retried', value: g.retried, tone: 'tone-info' },
          { label: 'cached', value: g.cached, tone: 'tone-muted' },
        ],
        'Governance outcomes of this batch’s requests',
      ),
    ]);

    const u = b.usage;
    const q = b.x_quality;
    renderUsage(JSON.stringify([u, b.x_budget, q]), () => [
      facts([
        ['Input tokens', `${count(u.input_tokens)} (${count(u.input_tokens_details.cached_tokens)} cached)`],
        [
          'Output tokens',
          `${count(u.output_tokens)} (${count(u.output_tokens_details.reasoning_tokens)} reasoning)`,
        ],
        ['Total tokens', count(u.total_tokens)],
        [
          'Budget',
          b.x_budget
            ? `${count(b.x_budget.used_tokens)} of ${count(b.x_budget.max_tokens)} (${percent(b.x_budget.used_tokens, b.x_budget.max_tokens)})${b.x_budget.exceeded ? ' — exceeded' : ''}`
            : 'none set',
        ],
        [
          'Quality',
          q.passed === null ? `${count(q.scored)} scored` : `${count(q.passed)} of ${count(q.scored)} passed`,
        ],
      ]),
    ]);

    renderTimes(
      JSON.stringify([
        b.created_at,
        b.in_progress_at,
        b.finalizing_at,
        b.completed_at,
        b.failed_at,
        b.expired_at,
        b.cancelling_at,
        b.cancelled_at,
        b.expires_at,
        b.x_paused_at,
      ]),
      () => [
        facts([
          ['Created', when(b.created_at)],
          ['In progress', when(b.in_progress_at)],
          ['Paused since', when(b.x_paused_at)],
          ['Finalizing', when(b.finalizing_at)],
          ['Completed', when(b.completed_at)],
          ['Failed', when(b.failed_at)],
          ['Expired', when(b.expired_at)],
          ['Cancelling', when(b.cancelling_at)],
          ['Cancelled', when(b.cancelled_at)],
          ['Deadline', when(b.expires_at)],
        ]),
      ],
    );

    renderDetails(
      JSON.stringify([
        b.endpoint,
        b.input_file_id,
        b.output_file_id,
        b.error_file_id,
        b.metadata,
        b.x_replay_of,
        b.x_replays,
        b.completion_window,
      ]),
      () => [
        facts([
          ['Endpoint', b.endpoint],
          ['Model(s)', modelsOf(b)],
          ['Completion window', b.completion_window],
          ['Input file', b.input_file_id],
          ['Output file', b.output_file_id ?? '—'],
          ['Error file', b.error_file_id ?? '—'],
          [
            'Metadata',
            b.metadata && Object.keys(b.metadata).length
              ? Object.entries(b.metadata)
                  .map(([k, v]) => `${k} = ${v}`)
                  .join('; ')
              : '—',
          ],
          ['Replay of', b.x_replay_of ? batchLink(b.x_replay_of) : '—'],
          ['Replays', b.x_replays.length ? b.x_replays.map(batchLink) : '—'],
        ]),
      ],
    );

    const list = b.errors?.data ?? [];
    renderErrors(JSON.stringify(list), () =>
      list.length
        ? [
            h(
              'section',
              { class: 'card wide', 'aria-labelledby': 'errors-heading' },
              h('h2', { id: 'errors-heading' }, `Validation errors (${list.length})`),
              h(
                'table',
                { class: 'list', id: 'errors-table' },
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    ...['Line', 'Code', 'Message', 'Parameter'].map((t) => h('th', { scope: 'col' }, t)),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  ...list.map((e) =>
                    h(
                      'tr',
                      {},
                      h('td', { class: 'num' }, e.line === null ? '—' : String(e.line)),
                      h('td', { class: 'mono' }, e.code),
                      h('td', {}, e.message),
                      h('td', { class: 'mono' }, e.param ?? '—'),
                    ),
                  ),
                ),
              ),
            ),
          ]
        : [],
    );
  }

  /** One poll: the batch, a rate sample, the page; `schedule` keeps polling until the batch has ended. */
  async function poll(schedule = true): Promise<void> {
    try {
      const b = await api.getBatch(batchId);
      if (!alive) return;
      const now = performance.now();
      const done = b.request_counts.completed + b.request_counts.failed;
      if (previous && now > previous.t) {
        samples.push({
          t: now - started,
          value: Math.max(0, (done - previous.done) / ((now - previous.t) / 1000)),
        });
        if (samples.length > MAX_SAMPLES) samples.shift();
      }
      previous = { t: now, done };
      const changed =
        batch !== null &&
        (batch.status !== b.status || (batch.x_paused_at != null) !== (b.x_paused_at != null));
      batch = b;
      render(b);
      if (changed) announce(`Batch ${statusText(b.status)}${b.x_paused_at != null ? ', paused' : ''}.`);
      if (schedule && !isTerminal(b.status)) timer = window.setTimeout(() => void poll(), POLL_MS);
    } catch (err) {
      if (!alive) return;
      const f = err as ApiFailure;
      problem.textContent =
        f.status === 404 ? `No batch ${batchId} for this API key.` : `Could not read the batch: ${f.message}`;
      // A 404 stays one; anything else (a restart of the API, a network blip) is tried again.
      if (schedule && f.status !== 404 && f.status !== 401)
        timer = window.setTimeout(() => void poll(), POLL_MS * 3);
    }
  }
  void poll();
  return () => {
    alive = false;
    window.clearTimeout(timer);
  };
}

function batchLink(id: string): HTMLElement {
  return h('a', { href: `#/batches/${encodeURIComponent(id)}`, class: 'mono batch-link' }, id);
}

function facts(rows: [string, string | Node | Node[]][]): HTMLDListElement {
  return h(
    'dl',
    { class: 'facts' },
    ...rows.flatMap(([k, v]) => [
      h('dt', {}, k),
      h('dd', {}, ...(Array.isArray(v) ? v.flatMap((n, i) => (i ? [', ', n] : [n])) : [v])),
    ]),
  );
}
