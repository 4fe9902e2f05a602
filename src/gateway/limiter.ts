/**
 * A counting semaphore whose waiters are served by priority (lower first, then arrival order).
 * Chunks pass their batch's deadline (then their position in the batch) as priority, so the batch
 * whose completion window ends first gets upstream capacity first when batches compete.
 */
export class PrioritySemaphore {
  private inUse = 0;
  private seq = 0;
  private readonly heap: Waiter[] = [];

  constructor(private max: number) {}

  get active(): number {
    return this.inUse;
  }

  get waiting(): number {
    return this.heap.length;
  }

  get limit(): number {
    return this.max;
  }

  setLimit(limit: number): void {
    this.max = Math.max(1, limit);
    this.drain();
  }

  /** Resolves once a slot is held; rejects with AbortError if `signal` aborts first. */
  acquire(priority: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    if (this.inUse < this.max && this.heap.length === 0) {
      this.inUse++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { priority, seq: this.seq++, resolve, reject, cancelled: false };
      if (signal) {
        const onAbort = () => {
          waiter.cancelled = true;
          reject(abortError());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        waiter.resolve = () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
      }
      push(this.heap, waiter);
    });
  }

  release(): void {
    this.inUse--;
    this.drain();
  }

  /** True when a waiter with an earlier priority than `priority` is queued. */
  hasWaiterBefore(priority: number): boolean {
    while (this.heap.length > 0 && this.heap[0].cancelled) pop(this.heap);
    return this.heap.length > 0 && this.heap[0].priority < priority;
  }

  private drain(): void {
    while (this.inUse < this.max && this.heap.length > 0) {
      const next = pop(this.heap)!;
      if (next.cancelled) continue;
      this.inUse++;
      next.resolve();
    }
  }
}

interface Waiter {
  priority: number;
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
  cancelled: boolean;
}

/** The rejection of a wait ended by its AbortSignal (capacity, rate limits). */
export function abortError(what = 'capacity'): Error {
  const err = new Error(`aborted while waiting for ${what}`);
  err.name = 'AbortError';
  return err;
}

const before = (a: Waiter, b: Waiter): boolean =>
  a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);

function push(heap: Waiter[], w: Waiter): void {
  heap.push(w);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(heap[i], heap[parent])) break;
    [heap[i], heap[parent]] = [heap[parent], heap[i]];
    i = parent;
  }
}

function pop(heap: Waiter[]): Waiter | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (heap.length > 0 && last) {
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l], heap[m])) m = l;
      if (r < heap.length && before(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  }
  return top;
}
