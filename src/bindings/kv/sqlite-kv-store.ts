import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { KvEntry, KvListedKey, KvListQuery, KvStore } from "./kv-store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv_entries (
  namespace TEXT NOT NULL,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  expiration INTEGER,
  metadata TEXT,
  PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS kv_entries_expiration ON kv_entries (expiration)
  WHERE expiration IS NOT NULL;
`;

/** Expired entries removed with each write: enough to keep up with any rate of expiring puts. */
const SWEEP_PER_WRITE = 16;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Every KV namespace of a data directory in one SQLite database (`<dataDir>/kv.sqlite`), keys
 * as UTF-8 blobs, so they sort as Cloudflare lists them (byte order) and no key is ever a file
 * name. An entry past its expiration is never returned; expired rows are deleted a few at a time
 * by later writes. Several threads may open the same file (normal locking, WAL).
 */
export class SqliteKvStore implements KvStore {
  readonly #durable: () => Promise<void>;
  readonly #close: () => Promise<void>;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #delete: StatementSync;
  readonly #sweep: StatementSync;
  readonly #list: StatementSync;
  #closed = false;

  /**
   * `durable` resolves once every commit made to `db` so far is on disk; `close` closes `db`
   * and what makes it durable.
   */
  constructor(db: DatabaseSync, durable: () => Promise<void>, close: () => Promise<void>) {
    db.exec(SCHEMA);
    this.#durable = durable;
    this.#close = close;
    this.#get = db.prepare(
      "SELECT value, expiration, metadata FROM kv_entries WHERE namespace = ? AND key = ?",
    );
    this.#put = db.prepare(
      `INSERT INTO kv_entries (namespace, key, value, expiration, metadata) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
         expiration = excluded.expiration, metadata = excluded.metadata`,
    );
    this.#delete = db.prepare("DELETE FROM kv_entries WHERE namespace = ? AND key = ?");
    this.#sweep = db.prepare(
      `DELETE FROM kv_entries WHERE rowid IN
         (SELECT rowid FROM kv_entries WHERE expiration <= ? LIMIT ${SWEEP_PER_WRITE})`,
    );
    this.#list = db.prepare(
      `SELECT key, expiration, metadata FROM kv_entries
       WHERE namespace = ? AND key >= ? AND key > ? ORDER BY key`,
    );
  }

  async get(namespace: string, key: string, now: number): Promise<KvEntry | undefined> {
    const row = this.#get.get(namespace, encoder.encode(key));
    if (row === undefined) return undefined;
    const expiration = row.expiration as number | null;
    if (expiration !== null && expiration <= now) return undefined;
    return {
      value: row.value as Uint8Array,
      expiration: expiration ?? undefined,
      metadata: (row.metadata as string | null) ?? undefined,
    };
  }

  async put(namespace: string, key: string, entry: KvEntry, now: number): Promise<void> {
    this.#put.run(
      namespace,
      encoder.encode(key),
      entry.value,
      entry.expiration ?? null,
      entry.metadata ?? null,
    );
    this.#sweep.run(now);
    await this.#durable();
  }

  async delete(namespace: string, key: string): Promise<void> {
    const { changes } = this.#delete.run(namespace, encoder.encode(key));
    if (Number(changes) > 0) await this.#durable();
  }

  async list(namespace: string, query: KvListQuery, now: number): Promise<KvListedKey[]> {
    const keys: KvListedKey[] = [];
    const after = query.after ?? new Uint8Array(0);
    for (const row of this.#list.iterate(namespace, query.prefix, after)) {
      const key = row.key as Uint8Array;
      if (!startsWith(key, query.prefix)) break;
      const expiration = row.expiration as number | null;
      if (expiration !== null && expiration <= now) continue;
      keys.push({
        name: decoder.decode(key),
        expiration: expiration ?? undefined,
        metadata: (row.metadata as string | null) ?? undefined,
      });
      if (keys.length > query.limit) break;
    }
    return keys;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#close();
  }
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.byteLength < prefix.byteLength) return false;
  for (let i = 0; i < prefix.byteLength; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
