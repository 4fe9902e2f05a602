// The API objects the console reads: the contract's own types (src/domain), read tolerantly.
import type { Batch } from '../../domain/batch';
import type { RecordView } from '../../domain/record-view';

export type { RecordView };

/** One model's counts (`x_models`), for its progress bar. */
export interface ModelProgress {
  model: string;
  request_counts: { total: number; completed: number; failed: number };
}

/**
 * A Batch as the console reads it: `x_paused_at` and `x_models` may be missing on an API that
 * predates them, and are null before they apply.
 */
export type ConsoleBatch = Omit<Batch, 'x_paused_at' | 'x_models'> & {
  x_paused_at?: number | null;
  x_models?: ModelProgress[] | null;
};

export interface ListPage<T> {
  object: 'list';
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  filename: string;
  purpose: string;
}

/** GET /console/settings.json. */
export interface ConsoleSettings {
  temporalUiUrl: string;
  namespace: string;
  completionWindows: string[];
}
