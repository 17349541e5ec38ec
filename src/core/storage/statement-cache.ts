/**
 * Prepared statements by SQL text, least recently used first, bounded by the memory SQLite
 * reports for them (workerd bounds its per-object statement cache the same way, at 1 MiB).
 * Without a bound, an app that builds SQL text per request (values inlined instead of bound)
 * would keep every statement it ever ran.
 */
export class StatementCache<T> {
  readonly #maxBytes: number;
  readonly #evicted: (value: T) => void;
  readonly #entries = new Map<string, { value: T; bytes: number }>();
  #bytes = 0;

  /** `evicted` runs for each entry dropped to stay under `maxBytes`. */
  constructor(maxBytes: number, evicted: (value: T) => void) {
    this.#maxBytes = maxBytes;
    this.#evicted = evicted;
  }

  /** Bytes the cached statements use, as measured when they were added. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The cached value for `sql`, which becomes the most recently used. */
  get(sql: string): T | undefined {
    const entry = this.#entries.get(sql);
    if (entry === undefined) return undefined;
    this.#entries.delete(sql);
    this.#entries.set(sql, entry);
    return entry.value;
  }

  /** Adds a value costing `bytes`, dropping the least recently used past the budget. */
  set(sql: string, value: T, bytes: number): void {
    const old = this.#entries.get(sql);
    if (old !== undefined) {
      this.#entries.delete(sql);
      this.#bytes -= old.bytes;
    }
    this.#entries.set(sql, { value, bytes });
    this.#bytes += bytes;
    // The newest entry always stays, however big: the caller is about to run it.
    for (const [key, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes || this.#entries.size === 1) break;
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
      this.#evicted(entry.value);
    }
  }
}
