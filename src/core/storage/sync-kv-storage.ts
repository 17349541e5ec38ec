import type { KvListOptions, KvStore } from "./kv.ts";

/** `ctx.storage.kv`: the KV API, synchronous. */
export class SyncKvStorage {
  readonly #kv: KvStore;

  /** @internal */
  constructor(kv: KvStore) {
    this.#kv = kv;
  }

  /** The value under `key`, or undefined. */
  get<T = unknown>(key: string): T | undefined {
    return this.#kv.get(key) as T | undefined;
  }

  /** Entries in key order as `[key, value]` pairs. */
  list<T = unknown>(options?: KvListOptions): Iterable<[string, T]> {
    return (this.#kv.list(options) as Map<string, T>).entries();
  }

  /** Stores a value. */
  put<T>(key: string, value: T): void {
    this.#kv.put(key, value);
  }

  /** Deletes a key; true if it existed. */
  delete(key: string): boolean {
    return this.#kv.delete(key);
  }
}
