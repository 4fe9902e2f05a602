// Upload a JSONL file and create a batch: endpoint, completion window, metadata rows, token budget.
import { api, type ApiFailure } from './api';
import { announce, fill, h } from './dom';
import type { ConsoleSettings } from './types';

/** The endpoints of src/domain/batch.ts (ENDPOINTS), written out: importing them would bundle zod. */
const ENDPOINTS = [
  '/v1/chat/completions',
  '/v1/responses',
  '/v1/embeddings',
  '/v1/completions',
  '/v1/moderations',
];
const MAX_METADATA = 16;

let rowIds = 0;

function metadataRow(onRemove: (row: HTMLElement) => void): HTMLElement {
  const n = ++rowIds;
  const row = h(
    'div',
    { class: 'metadata-row' },
    h('label', { for: `meta-key-${n}` }, 'Key'),
    h('input', {
      id: `meta-key-${n}`,
      class: 'meta-key',
      name: 'metadata-key',
      maxlength: 64,
      autocomplete: 'off',
    }),
    h('label', { for: `meta-value-${n}` }, 'Value'),
    h('input', {
      id: `meta-value-${n}`,
      class: 'meta-value',
      name: 'metadata-value',
      maxlength: 512,
      autocomplete: 'off',
    }),
  );
  row.append(
    h(
      'button',
      {
        type: 'button',
        class: 'link-button',
        'aria-label': `Remove metadata row ${n}`,
        onclick: () => onRemove(row),
      },
      'Remove',
    ),
  );
  return row;
}

export function showCreateForm(root: HTMLElement, settings: ConsoleSettings): () => void {
  const fileInput = h('input', {
    id: 'input-file',
    name: 'file',
    type: 'file',
    accept: '.jsonl',
    required: true,
    'aria-describedby': 'input-file-help',
  });
  const endpoint = h(
    'select',
    { id: 'endpoint', name: 'endpoint' },
    ...ENDPOINTS.map((e) => h('option', { value: e }, e)),
  );
  const windows = settings.completionWindows.length ? settings.completionWindows : ['24h'];
  const windowSelect = h(
    'select',
    { id: 'completion-window', name: 'completion_window' },
    ...windows.map((w) => h('option', { value: w }, w)),
  );
  const budget = h('input', {
    id: 'max-tokens',
    name: 'x_max_tokens',
    type: 'number',
    min: 1,
    step: 1,
    inputmode: 'numeric',
    'aria-describedby': 'max-tokens-help',
  });
  const rows = h('div', { id: 'metadata-rows' });
  const addRow = h('button', { type: 'button', id: 'add-metadata' }, 'Add metadata row');
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload and create batch');
  const status = h('p', { id: 'create-status', role: 'status' });
  const problem = h('p', { id: 'create-error', class: 'error', role: 'alert' });

  const remove = (row: HTMLElement) => {
    row.remove();
    addRow.disabled = rows.children.length >= MAX_METADATA;
    addRow.focus();
  };
  addRow.addEventListener('click', () => {
    if (rows.children.length >= MAX_METADATA) return;
    const row = metadataRow(remove);
    rows.append(row);
    addRow.disabled = rows.children.length >= MAX_METADATA;
    row.querySelector('input')?.focus();
  });

  const form = h(
    'form',
    { id: 'create-form', novalidate: true, 'aria-labelledby': 'create-heading' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'input-file' }, 'Input file (JSONL)'),
      fileInput,
      h(
        'p',
        { id: 'input-file-help', class: 'help' },
        'One request per line: {"custom_id", "method", "url", "body"}.',
      ),
    ),
    h('div', { class: 'field' }, h('label', { for: 'endpoint' }, 'Endpoint'), endpoint),
    h('div', { class: 'field' }, h('label', { for: 'completion-window' }, 'Completion window'), windowSelect),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'max-tokens' }, 'Token budget (optional)'),
      budget,
      h('p', { id: 'max-tokens-help', class: 'help' }, 'The batch stops once it has used this many tokens.'),
    ),
    h('fieldset', {}, h('legend', {}, 'Metadata (up to 16 key = value pairs)'), rows, addRow),
    h('div', { class: 'actions' }, submit, h('a', { href: '#/', class: 'button' }, 'Back to batches')),
    status,
    problem,
  );

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void create();
  });

  async function create(): Promise<void> {
    problem.textContent = '';
    const file = fileInput.files?.[0];
    if (!file) {
      problem.textContent = 'Choose a JSONL file to upload.';
      fileInput.focus();
      return;
    }
    const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const row of rows.children) {
      const key = (row.querySelector('.meta-key') as HTMLInputElement).value.trim();
      const value = (row.querySelector('.meta-value') as HTMLInputElement).value;
      if (key) metadata[key] = value;
    }
    const body: Record<string, unknown> = {
      endpoint: endpoint.value,
      completion_window: windowSelect.value,
    };
    if (Object.keys(metadata).length) body.metadata = { ...metadata };
    if (budget.value) body.x_max_tokens = Number(budget.value);
    submit.disabled = true;
    try {
      status.textContent = `Uploading ${file.name}…`;
      const uploaded = await api.uploadFile(file);
      status.textContent = `Uploaded ${uploaded.id}; creating the batch…`;
      const batch = await api.createBatch({ ...body, input_file_id: uploaded.id });
      announce(`Created batch ${batch.id}.`);
      location.hash = `#/batches/${encodeURIComponent(batch.id)}`;
    } catch (err) {
      status.textContent = '';
      const f = err as ApiFailure;
      problem.textContent = `Could not create the batch: ${f.message}${f.param ? ` (${f.param})` : ''}`;
    } finally {
      submit.disabled = false;
    }
  }

  fill(root, h('section', {}, h('h1', { id: 'create-heading' }, 'New batch'), form));
  fileInput.focus();
  return () => undefined;
}
