/**
 * Runs work one at a time per key within this process (the map holds only work in flight):
 * a second caller for a key waits for the first to end, whatever its outcome.
 */
export class KeyedLock {
  private readonly held = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    for (let h = this.held.get(key); h; h = this.held.get(key)) await h.catch(() => undefined);
    const run = fn();
    this.held.set(key, run);
    try {
      return await run;
    } finally {
      if (this.held.get(key) === run) this.held.delete(key);
    }
  }
}
