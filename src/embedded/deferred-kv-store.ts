import type { KvEntry, KvListedKey, KvListQuery, KvStore } from "../bindings/kv/index.ts";

/**
 * A KV store that exists once the runtime holds its data directory. The bindings go into `env`
 * before the app's modules load (so `env` of cloudflare:workers holds them), and the directory is
 * opened after the app loaded; a call made in between waits.
 */
export class DeferredKvStore implements KvStore {
  #store: Promise<KvStore>;
  #resolve!: (store: KvStore) => void;
  #reject!: (error: unknown) => void;
  #opened: KvStore | undefined;

  constructor() {
    this.#store = new Promise<KvStore>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#store.catch(() => {});
  }

  /** The store to use from now on. */
  open(store: KvStore): void {
    this.#opened = store;
    this.#resolve(store);
  }

  /** The runtime did not start: calls fail with `error`. */
  fail(error: unknown): void {
    this.#reject(error);
  }

  async get(namespace: string, key: string, now: number): Promise<KvEntry | undefined> {
    return (this.#opened ?? (await this.#store)).get(namespace, key, now);
  }

  async put(namespace: string, key: string, entry: KvEntry, now: number): Promise<void> {
    return (this.#opened ?? (await this.#store)).put(namespace, key, entry, now);
  }

  async delete(namespace: string, key: string): Promise<void> {
    return (this.#opened ?? (await this.#store)).delete(namespace, key);
  }

  async list(namespace: string, query: KvListQuery, now: number): Promise<KvListedKey[]> {
    return (this.#opened ?? (await this.#store)).list(namespace, query, now);
  }

  async close(): Promise<void> {
    await this.#opened?.close();
  }
}
