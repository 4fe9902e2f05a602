/**
 * A Map that forgets its oldest entries beyond `max`: per-batch state kept by long-running
 * worker processes (halts, budgets, captured headers) must not grow with every batch ever run.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(private readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.has(key) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
