// How the CLI reads and prints a Batch: OpenAI's object plus our `x_` extensions when the server has them.
import type OpenAI from 'openai';
import type { GovernanceCounts } from '../domain/batch';

interface ModelProgress {
  model: string;
  request_counts: { total: number; completed: number; failed: number };
}

/** Any OpenAI-compatible server's Batch; the extension fields are absent on servers other than ours. */
export type GatewayBatch = OpenAI.Batches.Batch & {
  x_governance?: GovernanceCounts;
  x_paused_at?: number | null;
  x_models?: ModelProgress[] | null;
  x_replay_of?: string | null;
  x_replays?: string[];
};

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set([
  'completed',
  'failed',
  'expired',
  'cancelled',
]);

export const isTerminal = (batch: GatewayBatch): boolean => TERMINAL_STATUSES.has(batch.status);

export const GOVERNANCE_OUTCOMES = [
  'succeeded',
  'blocked',
  'flagged',
  'errored',
  'retried',
  'cached',
] as const;

export function countsOf(batch: GatewayBatch): {
  total: number;
  completed: number;
  failed: number;
  done: number;
} {
  const { total = 0, completed = 0, failed = 0 } = batch.request_counts ?? {};
  return { total, completed, failed, done: completed + failed };
}

/** `succeeded 118 · blocked 1 · …`, or null on a server without governance counts. */
export function governanceLine(batch: GatewayBatch): string | null {
  const g = batch.x_governance;
  if (!g) return null;
  return GOVERNANCE_OUTCOMES.map((k) => `${k} ${g[k] ?? 0}`).join(' · ');
}

/** `in_progress`, or `in_progress (paused)` while a pause holds it. */
export function statusLabel(batch: GatewayBatch): string {
  return batch.x_paused_at != null ? `${batch.status} (paused)` : batch.status;
}

/** Unix seconds as `2026-12-02 05:10:11Z`. */
export function timeOf(unixSeconds: number | null | undefined): string {
  if (unixSeconds == null) return '-';
  return new Date(unixSeconds * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}

/** The readable summary of `batchgw status`. */
export function describeBatch(batch: GatewayBatch): string[] {
  const { total, completed, failed, done } = countsOf(batch);
  const rows: [string, string][] = [
    ['status', statusLabel(batch)],
    ['endpoint', `${batch.endpoint}   window ${batch.completion_window}`],
    ['created', timeOf(batch.created_at)],
  ];
  if (batch.x_paused_at != null) rows.push(['paused', `since ${timeOf(batch.x_paused_at)}`]);
  if (batch.expires_at != null && !isTerminal(batch)) rows.push(['expires', timeOf(batch.expires_at)]);
  const ended = batch.completed_at ?? batch.failed_at ?? batch.expired_at ?? batch.cancelled_at;
  if (ended != null) rows.push(['ended', timeOf(ended)]);
  rows.push(['requests', `${done}/${total} done: completed ${completed}, failed ${failed}`]);
  const governance = governanceLine(batch);
  if (governance) rows.push(['governance', governance]);
  for (const m of batch.x_models ?? []) {
    const c = m.request_counts;
    rows.push([
      `  ${m.model}`,
      `${c.completed + c.failed}/${c.total} done: completed ${c.completed}, failed ${c.failed}`,
    ]);
  }
  if (batch.output_file_id) rows.push(['output file', batch.output_file_id]);
  if (batch.error_file_id) rows.push(['error file', batch.error_file_id]);
  for (const e of batch.errors?.data ?? []) {
    const where = e.line != null ? `line ${e.line}: ` : '';
    rows.push(['error', `${where}${e.code ?? 'error'}: ${e.message ?? ''}`]);
  }
  const metadata = Object.entries(batch.metadata ?? {});
  if (metadata.length) rows.push(['metadata', metadata.map(([k, v]) => `${k}=${v}`).join(' ')]);
  if (batch.x_replay_of) rows.push(['replay of', batch.x_replay_of]);
  if (batch.x_replays?.length) rows.push(['replays', batch.x_replays.join(' ')]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [batch.id, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
}

/** The line printed when a waited-for batch ends. */
export function finalLine(batch: GatewayBatch): string {
  const { total, completed, failed } = countsOf(batch);
  const files = [
    batch.output_file_id ? `output file ${batch.output_file_id}` : null,
    batch.error_file_id ? `error file ${batch.error_file_id}` : null,
  ].filter(Boolean);
  const reason = batch.errors?.data?.[0];
  const why = batch.status === 'failed' && reason ? ` (${reason.code}: ${reason.message})` : '';
  return (
    `${batch.id} ${batch.status}${why}: ${total} requests, completed ${completed}, failed ${failed}` +
    (files.length ? ` · ${files.join(' · ')}` : '')
  );
}
