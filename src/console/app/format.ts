// How times, counts and statuses read in the console.

/** Unix seconds → local date and time, or an em dash. */
export function when(unixSeconds: number | null | undefined): string {
  if (unixSeconds === null || unixSeconds === undefined) return '—';
  return new Date(unixSeconds * 1000).toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

/** Unix milliseconds → local time with milliseconds. */
export function whenMs(unixMs: number): string {
  const d = new Date(unixMs);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.toLocaleDateString()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export const count = (n: number): string => n.toLocaleString('en-US');

export function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)}%` : '0%';
}

/** `in_progress` → `in progress`. */
export const statusText = (status: string): string => status.replace(/_/g, ' ');

const TERMINAL = new Set(['completed', 'failed', 'expired', 'cancelled']);
export const isTerminal = (status: string): boolean => TERMINAL.has(status);
