import { abortError } from './limiter';

/**
 * A counting semaphore shared by tenants in proportion to their weights, for one worker process.
 *
 * Each tenant has its own queue of waiters, ordered by priority (lower first: the batch deadline,
 * then the segment), then arrival. A free slot goes to the waiting tenant owed it most: the one
 * whose share after the grant, (held + 1) / weight, is smallest (ties: the earlier head waiter).
 * That is weighted max-min fairness over slots held, a D'Hondt allocation, so under saturation a
 * tenant holds its weighted share of the limit to within one slot; a tenant alone, or the only
 * one waiting, gets every free slot (work-conserving); how many batches or chunks a tenant runs
 * does not matter, only its weight. Holders that keep their slot from request to request ask
 * `shouldYield` between requests and give it back when a waiter of their own tenant has an earlier
 * priority or another tenant is owed the slot, so shares converge within one request per holder.
 *
 * Cost: an acquire with a slot free is O(1) and allocates nothing; a wait is O(log w + log t)
 * (w waiters of the tenant, t waiting tenants) and allocates what a promise with an abort listener
 * needs; release and abort are O(log w + log t). Tenants join per chunk (`join`/`leave`), not per
 * acquire, so the hot path does no map lookup.
 */
export class FairShareSemaphore {
  private inUse = 0;
  private queued = 0;
  private seq = 0;
  private readonly tenants = new Map<string, TenantQueue>();
  /** Tenants with waiters; the one owed the next slot on top. */
  private readonly backlog: TenantQueue[] = [];

  constructor(private max: number) {}

  /** Slots held, across tenants. */
  get active(): number {
    return this.inUse;
  }

  /** Waiters, across tenants. */
  get waiting(): number {
    return this.queued;
  }

  get limit(): number {
    return this.max;
  }

  /** Tenants joined now (with a chunk running, a slot held or a waiter). */
  get tenantCount(): number {
    return this.tenants.size;
  }

  /** A lower limit takes no slot away: holders see `active > limit` and give theirs back. */
  setLimit(limit: number): void {
    this.max = Math.max(1, limit);
    this.drain();
  }

  /**
   * The tenant's queue, for one user (a chunk) until `leave`. `weight` (default 1) is the tenant's
   * share against the others; the latest join's weight applies to the whole tenant.
   */
  join(name: string, weight = 1): TenantQueue {
    const w = Number.isFinite(weight) && weight > 0 ? weight : 1;
    let t = this.tenants.get(name);
    if (!t) {
      t = new TenantQueue(name, w);
      this.tenants.set(name, t);
    } else if (t.weight !== w) {
      t.weight = w;
      if (t.heapIndex >= 0) fix(this.backlog, t.heapIndex, owedBefore);
    }
    t.users++;
    return t;
  }

  /** The user of `join` is done (it holds no slot and waits for none). */
  leave(t: TenantQueue): void {
    t.users--;
    this.forgetIfIdle(t);
  }

  /** Resolves once a slot is held for `t`; rejects with AbortError if `signal` aborts first. */
  acquire(t: TenantQueue, priority: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    // Nobody waits while a slot is free (drain), so a free slot is nobody else's.
    if (this.inUse < this.max && this.queued === 0) {
      this.inUse++;
      t.active++;
      return RESOLVED;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        priority,
        seq: this.seq++,
        heapIndex: -1,
        tenant: t,
        resolve,
        signal,
        onAbort: noop,
      };
      if (signal) {
        waiter.onAbort = () => {
          this.remove(waiter);
          reject(abortError());
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      push(t.waiters, waiter, waiterBefore);
      this.queued++;
      this.place(t);
    });
  }

  release(t: TenantQueue): void {
    this.inUse--;
    t.active--;
    // Its share fell: it may now be owed the next slot.
    if (t.heapIndex >= 0) fix(this.backlog, t.heapIndex, owedBefore);
    else this.forgetIfIdle(t);
    this.drain();
  }

  /**
   * For a holder of `t` between requests: true when it should give its slot back and queue again —
   * a waiter of its own tenant has an earlier priority, or another tenant is owed the slot more
   * than `t` is entitled to keep it ((held + 1) / weight of the other below held / weight of `t`).
   */
  shouldYield(t: TenantQueue, priority: number): boolean {
    const head = t.waiters[0];
    if (head !== undefined && head.priority < priority) return true;
    const top = this.backlog[0];
    return top !== undefined && top !== t && (top.active + 1) * t.weight < t.active * top.weight;
  }

  private drain(): void {
    while (this.inUse < this.max && this.backlog.length > 0) {
      const t = this.backlog[0];
      const next = pop(t.waiters, waiterBefore)!;
      this.queued--;
      this.inUse++;
      t.active++;
      if (t.waiters.length === 0) pop(this.backlog, owedBefore);
      else fix(this.backlog, 0, owedBefore);
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
    }
  }

  /** Puts `t` in the backlog, or moves it after its head waiter changed. */
  private place(t: TenantQueue): void {
    if (t.heapIndex < 0) push(this.backlog, t, owedBefore);
    else fix(this.backlog, t.heapIndex, owedBefore);
  }

  /** An aborted waiter leaves its tenant's queue (it never held a slot, so nothing is drained). */
  private remove(w: Waiter): void {
    const t = w.tenant;
    removeAt(t.waiters, w.heapIndex, waiterBefore);
    this.queued--;
    if (t.waiters.length === 0) removeAt(this.backlog, t.heapIndex, owedBefore);
    else fix(this.backlog, t.heapIndex, owedBefore);
  }

  private forgetIfIdle(t: TenantQueue): void {
    if (t.users <= 0 && t.active === 0 && t.waiters.length === 0 && this.tenants.get(t.name) === t)
      this.tenants.delete(t.name);
  }
}

/** A tenant's place in one FairShareSemaphore (from `join`). */
export class TenantQueue {
  /** Slots the tenant holds. */
  active = 0;
  /** Chunks that joined and have not left. */
  users = 0;
  /** Position in the semaphore's backlog; -1 while the tenant has no waiter. */
  heapIndex = -1;
  readonly waiters: Waiter[] = [];

  constructor(
    readonly name: string,
    public weight: number,
  ) {}

  get waiting(): number {
    return this.waiters.length;
  }
}

interface Waiter {
  priority: number;
  seq: number;
  heapIndex: number;
  tenant: TenantQueue;
  resolve: () => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

const RESOLVED = Promise.resolve();
const noop = (): void => undefined;

const waiterBefore = (a: Waiter, b: Waiter): boolean =>
  a.priority < b.priority || (a.priority === b.priority && a.seq < b.seq);

/** `a` is owed the next slot before `b`: its share after a grant is lower (then its head is earlier). */
const owedBefore = (a: TenantQueue, b: TenantQueue): boolean => {
  const x = (a.active + 1) * b.weight;
  const y = (b.active + 1) * a.weight;
  return x !== y ? x < y : waiterBefore(a.waiters[0], b.waiters[0]);
};

// A binary heap whose items know their index, so any item can be moved or removed in O(log n).
interface Indexed {
  heapIndex: number;
}
type Before<T> = (a: T, b: T) => boolean;

function push<T extends Indexed>(heap: T[], item: T, before: Before<T>): void {
  item.heapIndex = heap.length;
  heap.push(item);
  up(heap, item.heapIndex, before);
}

function pop<T extends Indexed>(heap: T[], before: Before<T>): T | undefined {
  const top = heap[0];
  if (top !== undefined) removeAt(heap, 0, before);
  return top;
}

function removeAt<T extends Indexed>(heap: T[], i: number, before: Before<T>): void {
  const item = heap[i];
  const last = heap.pop()!;
  item.heapIndex = -1;
  if (i < heap.length) {
    heap[i] = last;
    last.heapIndex = i;
    fix(heap, i, before);
  }
}

/** Restores the heap after the item at `i` changed its key. */
function fix<T extends Indexed>(heap: T[], i: number, before: Before<T>): void {
  down(heap, up(heap, i, before), before);
}

function up<T extends Indexed>(heap: T[], i: number, before: Before<T>): number {
  const item = heap[i];
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(item, heap[parent])) break;
    heap[i] = heap[parent];
    heap[i].heapIndex = i;
    i = parent;
  }
  heap[i] = item;
  item.heapIndex = i;
  return i;
}

function down<T extends Indexed>(heap: T[], i: number, before: Before<T>): void {
  const item = heap[i];
  const n = heap.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const m = r < n && before(heap[r], heap[l]) ? r : l;
    if (!before(heap[m], item)) break;
    heap[i] = heap[m];
    heap[i].heapIndex = i;
    i = m;
  }
  heap[i] = item;
  item.heapIndex = i;
}
