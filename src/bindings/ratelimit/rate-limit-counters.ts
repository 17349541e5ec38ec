/** The current window of one namespace: how many calls each key made in it. */
interface Window {
  /** Which window this is: `floor(now / periodMs)`. */
  readonly index: number;
  readonly periodMs: number;
  readonly counts: Map<string, number>;
}

/**
 * The counters of the Rate Limiting bindings of one thread, per namespace: fixed windows of
 * `period` seconds aligned to the epoch (as Miniflare counts), one count per key.
 *
 * Memory: only the current window of each namespace is kept, one entry per key called in it;
 * every window that has ended is dropped on the next call through any binding of the thread. So
 * the counters hold at most the distinct keys used within one period, per namespace.
 */
export class RateLimitCounters {
  readonly #windows = new Map<string, Window>();

  /**
   * Counts one call for `key` in `namespace` at `now` (ms): true while the key has made fewer
   * than `limit` calls in the current window (the call is counted), false past it (not counted).
   */
  take(namespace: string, periodSeconds: number, key: string, limit: number, now: number): boolean {
    const periodMs = periodSeconds * 1000;
    for (const [name, window] of this.#windows) {
      if (Math.floor(now / window.periodMs) !== window.index) this.#windows.delete(name);
    }
    let window = this.#windows.get(namespace);
    if (window === undefined) {
      window = { index: Math.floor(now / periodMs), periodMs, counts: new Map() };
      this.#windows.set(namespace, window);
    }
    const count = window.counts.get(key) ?? 0;
    if (count >= limit) return false;
    window.counts.set(key, count + 1);
    return true;
  }

  /** Keys counted in the current windows, all namespaces together (what memory holds). */
  get size(): number {
    let keys = 0;
    for (const window of this.#windows.values()) keys += window.counts.size;
    return keys;
  }
}
