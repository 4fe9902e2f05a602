// The console's only way out: our HTTP API on this origin, with the user's key as a Bearer token.
import type { ConsoleBatch, ConsoleSettings, FileObject, ListPage, RecordView } from './types';

const KEY_SLOT = 'batch-gateway.api-key';

/** The API key of this browser session (sessionStorage: gone when the tab closes; never in a URL). */
export const apiKey = {
  get: (): string => sessionStorage.getItem(KEY_SLOT) ?? '',
  set: (key: string): void => sessionStorage.setItem(KEY_SLOT, key.trim()),
  clear: (): void => sessionStorage.removeItem(KEY_SLOT),
};

/** An error answer of the API, in OpenAI's shape (or a network failure: status 0). */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/** Listeners told of every 401, so the page can ask for a key. */
const unauthorizedListeners: ((failure: ApiFailure) => void)[] = [];
export const onUnauthorized = (f: (failure: ApiFailure) => void) => unauthorizedListeners.push(f);

async function call(method: string, path: string, body?: BodyInit, json = true): Promise<Response> {
  const headers = new Headers();
  const key = apiKey.get();
  if (key) headers.set('authorization', `Bearer ${key}`);
  if (body !== undefined && json) headers.set('content-type', 'application/json');
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, cache: 'no-store' });
  } catch (err) {
    throw new ApiFailure(0, `The API did not answer (${(err as Error).message}).`);
  }
  if (res.ok) return res;
  let failure: ApiFailure;
  try {
    const { error } = (await res.json()) as {
      error: { message: string; code: string | null; param: string | null };
    };
    failure = new ApiFailure(res.status, error.message, error.code, error.param);
  } catch {
    failure = new ApiFailure(res.status, `HTTP ${res.status} ${res.statusText}`);
  }
  if (res.status === 401) unauthorizedListeners.forEach((f) => f(failure));
  throw failure;
}

async function getJson<T>(path: string): Promise<T> {
  return (await (await call('GET', path)).json()) as T;
}

async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return (await (await call('POST', path, JSON.stringify(body))).json()) as T;
}

const enc = encodeURIComponent;

export const api = {
  settings: async (): Promise<ConsoleSettings> => getJson('/console/settings.json'),
  listBatches: async (limit: number, after: string | null): Promise<ListPage<ConsoleBatch>> =>
    getJson(`/v1/batches?limit=${limit}${after ? `&after=${enc(after)}` : ''}`),
  getBatch: async (id: string): Promise<ConsoleBatch> => getJson(`/v1/batches/${enc(id)}`),
  createBatch: async (body: Record<string, unknown>): Promise<ConsoleBatch> => postJson('/v1/batches', body),
  cancel: async (id: string): Promise<ConsoleBatch> => postJson(`/v1/batches/${enc(id)}/cancel`),
  pause: async (id: string): Promise<ConsoleBatch> => postJson(`/v1/batches/${enc(id)}/pause`),
  resume: async (id: string): Promise<ConsoleBatch> => postJson(`/v1/batches/${enc(id)}/resume`),
  replay: async (id: string): Promise<ConsoleBatch> => postJson(`/v1/batches/${enc(id)}/replay`),
  record: async (id: string, customId: string): Promise<RecordView> =>
    getJson(`/v1/batches/${enc(id)}/requests/${enc(customId)}`),
  uploadFile: async (file: File): Promise<FileObject> => {
    const form = new FormData();
    form.set('purpose', 'batch');
    form.set('file', file, file.name);
    return (await (await call('POST', '/v1/files', form, false)).json()) as FileObject;
  },
  fileContent: async (id: string): Promise<Blob> =>
    (await call('GET', `/v1/files/${enc(id)}/content`)).blob(),
  /** The result lines finished so far (output and error lines), while the batch runs or after. */
  results: async (id: string): Promise<Blob> => (await call('GET', `/v1/batches/${enc(id)}/results`)).blob(),
};
