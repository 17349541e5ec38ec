/**
 * Where a KV namespace's entries live. The binding (`kv-namespace.ts`) validates every argument
 * against Cloudflare's limits before it calls a store, so a store only stores. The local store
 * is one SQLite file in the data directory (`sqlite-kv-store.ts`); a shared backend for the
 * cluster implements the same members.
 */

/** One stored value. Times are in seconds since the epoch, as KV states them. */
export interface KvEntry {
  readonly value: Uint8Array;
  /** When the entry stops existing; undefined: never. */
  readonly expiration: number | undefined;
  /** The metadata as JSON text; undefined: none was given. */
  readonly metadata: string | undefined;
}

/** One key of a listing. */
export interface KvListedKey {
  readonly name: string;
  readonly expiration: number | undefined;
  /** JSON text. */
  readonly metadata: string | undefined;
}

export interface KvListQuery {
  /** Only keys starting with these UTF-8 bytes. */
  readonly prefix: Uint8Array;
  /** Only keys after these UTF-8 bytes (the previous page's last key); undefined: from the start. */
  readonly after: Uint8Array | undefined;
  /** At most this many keys (1..1000). */
  readonly limit: number;
}

export interface KvStore {
  /** The entry under `key` in `namespace`, or undefined if there is none or it expired by `now`. */
  get(namespace: string, key: string, now: number): Promise<KvEntry | undefined>;
  /**
   * Replaces the entry atomically; resolves once it is durable. The store may drop entries that
   * expired by `now` meanwhile.
   */
  put(namespace: string, key: string, entry: KvEntry, now: number): Promise<void>;
  /** Removes the entry (absent is fine); resolves once that is durable. */
  delete(namespace: string, key: string): Promise<void>;
  /**
   * Live keys in UTF-8 byte order, one more than `limit` when there are more (the caller
   * makes the cursor from the last one it returns).
   */
  list(namespace: string, query: KvListQuery, now: number): Promise<KvListedKey[]>;
  /** Closes the store; in-flight calls finish first. */
  close(): Promise<void>;
}
