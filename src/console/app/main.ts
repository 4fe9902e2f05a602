// The console's entry: the API key form, the settings, and a hash router over the four views.
import { api, apiKey, onUnauthorized } from './api';
import { showBatchPage } from './batch-page';
import { showBatchesList } from './batches-list';
import { showCreateForm } from './create-form';
import { announce, byId, h } from './dom';
import type { ConsoleSettings } from './types';

const FALLBACK_SETTINGS: ConsoleSettings = {
  temporalUiUrl: 'http://localhost:8233',
  namespace: 'default',
  completionWindows: ['24h'],
};

function keyForm(): void {
  const form = byId<HTMLFormElement>('key-form');
  const input = byId<HTMLInputElement>('api-key');
  const state = byId('key-state');
  const forget = byId<HTMLButtonElement>('forget-key');
  const show = () => {
    const has = apiKey.get() !== '';
    state.textContent = has ? 'Key set for this browser session.' : 'No key: requests go without one.';
    forget.disabled = !has;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    apiKey.set(input.value);
    input.value = '';
    show();
    announce('API key saved for this session.');
    route();
  });
  forget.addEventListener('click', () => {
    apiKey.clear();
    show();
    announce('API key forgotten.');
    route();
  });
  onUnauthorized((failure) => {
    state.textContent = `The API refused the key: ${failure.message}`;
    input.focus();
  });
  show();
}

let dispose: () => void = () => undefined;
let settings: ConsoleSettings = FALLBACK_SETTINGS;

/** `#/` the list, `#/new` the create form, `#/batches/<id>` one batch. */
function route(): void {
  dispose();
  const main = byId('main');
  const hash = location.hash.replace(/^#/, '') || '/';
  const batch = /^\/batches\/([^/]+)$/.exec(hash);
  if (batch) dispose = showBatchPage(main, decodeURIComponent(batch[1]), settings);
  else if (hash === '/new') dispose = showCreateForm(main, settings);
  else dispose = showBatchesList(main);
  document.title = `${batch ? decodeURIComponent(batch[1]) : hash === '/new' ? 'New batch' : 'Batches'} · Batch console`;
  // Keyboard and screen-reader users land on the new view's heading.
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

async function start(): Promise<void> {
  keyForm();
  settings = await api.settings().catch(() => FALLBACK_SETTINGS);
  window.addEventListener('hashchange', route);
  route();
  document.body.append(h('span', { id: 'console-ready', hidden: true }));
}

void start();
