import type { SQLInputValue, StatementSync } from "node:sqlite";
import {
  checkKey,
  checkKeyBatch,
  decodeValue,
  encodeValue,
  type StorageBackend,
} from "./kv-limits.ts";
import type { ObjectDatabase } from "./object-database.ts";
import { MAX_BINDINGS } from "./sql-limits.ts";
import type { Transactions } from "./transactions.ts";

/** Options of `list`, for both the async and the synchronous KV API. */
export interface KvListOptions {
  start?: string;
  startAfter?: string;
  end?: string;
  prefix?: string;
  reverse?: boolean;
  limit?: number;
}

/**
 * The KV operations on the hidden `_cf_KV` table, synchronous. The async API (`storage.get`…)
 * and the sync API (`storage.kv.*`) are both thin layers over this. Keys sort by UTF-8 bytes
 * because SQLite's BINARY collation compares the UTF-8 encoding.
 */
export class KvStore {
  readonly #db: ObjectDatabase;
  readonly #tx: Transactions;
  readonly #backend: StorageBackend;

  constructor(db: ObjectDatabase, tx: Transactions, backend: StorageBackend) {
    this.#db = db;
    this.#tx = tx;
    this.#backend = backend;
  }

  /** The value stored under `key`, or undefined. */
  get(key: unknown): unknown {
    checkKey(key, this.#backend);
    this.#tx.check();
    const row = this.#db.statement("SELECT value FROM _cf_KV WHERE key = ?").get(key);
    return row === undefined ? undefined : decodeValue(row.value as Uint8Array);
  }

  /** The stored entries among `keys`, in key order. */
  getMany(keys: unknown[]): Map<string, unknown> {
    checkKeyBatch(keys, this.#backend);
    this.#tx.check();
    const result = new Map<string, unknown>();
    if (keys.length === 0) return result;
    const unique = [...new Set(keys)];
    // A batch (up to 128 keys) may hold more keys than a statement may take parameters, so it
    // is read in chunks; more than one chunk needs the rows put back in key order.
    const rows: Record<string, unknown>[] = [];
    for (let start = 0; start < unique.length; start += MAX_BINDINGS) {
      const chunk = unique.slice(start, start + MAX_BINDINGS);
      const placeholders = chunk.map(() => "?").join(",");
      const statement = this.#db.statement(
        `SELECT key, value FROM _cf_KV WHERE key IN (${placeholders}) ORDER BY key`,
      );
      rows.push(...statement.all(...chunk));
    }
    if (unique.length > MAX_BINDINGS) {
      rows.sort((a, b) => compareUtf8(a.key as string, b.key as string));
    }
    for (const row of rows) result.set(row.key as string, decodeValue(row.value as Uint8Array));
    return result;
  }

  /** Stores one value. */
  put(key: unknown, value: unknown, unconfirmed = false): void {
    checkKey(key, this.#backend);
    if (value === undefined) throw new TypeError("put() called with undefined value.");
    const bytes = encodeValue(key, value, this.#backend);
    this.#tx.beforeWrite(unconfirmed);
    this.#write(() => this.#upsert().run(key, bytes));
    this.#tx.kvWritten(key as string, bytes);
  }

  /** Stores several values atomically; entries whose value is undefined are skipped. */
  putMany(entries: Record<string, unknown>, unconfirmed = false): void {
    const pairs = Object.entries(entries).filter(([, value]) => value !== undefined);
    if (pairs.length > 128) throw new RangeError("Maximum number of pairs is 128.");
    const encoded = pairs.map(([key, value]): [string, Uint8Array] => {
      checkKey(key, this.#backend);
      return [key, encodeValue(key, value, this.#backend)];
    });
    if (encoded.length === 0) return;
    this.#tx.beforeWrite(unconfirmed);
    const upsert = this.#upsert();
    this.#write(() =>
      this.#tx.savepoint(() => {
        for (const [key, bytes] of encoded) {
          upsert.run(key, bytes);
          this.#tx.kvWritten(key, bytes);
        }
      }),
    );
  }

  /** Deletes one key; true if it existed. */
  delete(key: unknown, unconfirmed = false): boolean {
    checkKey(key, this.#backend);
    this.#tx.beforeWrite(unconfirmed);
    const deleted = this.#db.statement("DELETE FROM _cf_KV WHERE key = ?").run(key).changes > 0;
    if (deleted) this.#tx.kvWritten(key as string, undefined);
    return deleted;
  }

  /** Deletes several keys; the number that existed. */
  deleteMany(keys: unknown[], unconfirmed = false): number {
    checkKeyBatch(keys, this.#backend);
    if (keys.length === 0) return 0;
    this.#tx.beforeWrite(unconfirmed);
    const remove = this.#db.statement("DELETE FROM _cf_KV WHERE key = ?");
    let deleted = 0;
    for (const key of new Set(keys)) {
      const removed = Number(remove.run(key).changes);
      if (removed > 0) this.#tx.kvWritten(key as string, undefined);
      deleted += removed;
    }
    return deleted;
  }

  /** Entries in key order (descending with `reverse`), bounded as the options say. */
  list(options: KvListOptions = {}): Map<string, unknown> {
    const result = new Map<string, unknown>();
    for (const [key, value] of this.iterate(options)) result.set(key, value);
    return result;
  }

  /** The same entries as `list`, read lazily. */
  *iterate(options: KvListOptions = {}): Generator<[string, unknown]> {
    const query = listQuery(options, this.#backend);
    this.#tx.check();
    if (query === undefined) return;
    const statement = this.#db.statement(query.sql);
    for (const row of statement.iterate(...query.params)) {
      yield [row.key as string, decodeValue(row.value as Uint8Array)];
    }
  }

  /** Deletes every KV entry (the caller deletes the rest of the database). */
  clear(): void {
    this.#tx.beforeWrite();
    const keys = this.#tx.tracksKv
      ? (this.#db.statement("SELECT key FROM _cf_KV").all() as Array<{ key: string }>)
      : [];
    this.#db.statement("DELETE FROM _cf_KV").run();
    for (const { key } of keys) this.#tx.kvWritten(key, undefined);
  }

  /** Runs a write; an error that rolled back the turn's transaction breaks the object. */
  #write<T>(write: () => T): T {
    try {
      return write();
    } catch (error) {
      throw this.#tx.failedCritically(error) ?? error;
    }
  }

  #upsert(): StatementSync {
    return this.#db.statement(
      "INSERT INTO _cf_KV (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
  }
}

interface ListQuery {
  sql: string;
  params: SQLInputValue[];
}

/** Builds the SELECT for a list call; undefined when the range is empty. */
function listQuery(options: KvListOptions, backend: StorageBackend): ListQuery | undefined {
  if (options === null || typeof options !== "object") {
    throw new TypeError("list() options must be an object.");
  }
  const { start, startAfter, end, prefix, reverse, limit } = options;
  for (const bound of [start, startAfter, end, prefix]) {
    if (bound !== undefined) checkKey(bound, backend);
  }
  if (start !== undefined && startAfter !== undefined) {
    throw new TypeError("list() cannot be called with both start and startAfter values.");
  }
  if (limit !== undefined) {
    if (typeof limit !== "number" || Number.isNaN(limit)) {
      throw new TypeError(`list() limit must be a number, got ${typeof limit}.`);
    }
    if (limit <= 0) throw new TypeError("List limit must be positive.");
  }
  const where: string[] = [];
  const params: SQLInputValue[] = [];
  if (start !== undefined) {
    where.push("key >= ?");
    params.push(start);
  }
  if (startAfter !== undefined) {
    where.push("key > ?");
    params.push(startAfter);
  }
  if (end !== undefined) {
    where.push("key < ?");
    params.push(end);
  }
  if (prefix !== undefined && prefix !== "") {
    where.push("key >= ?");
    params.push(prefix);
    const upper = successor(prefix);
    if (upper !== undefined) {
      where.push("key < ?");
      params.push(upper);
    }
  }
  let sql = "SELECT key, value FROM _cf_KV";
  if (where.length > 0) sql += ` WHERE ${where.join(" AND ")}`;
  sql += reverse ? " ORDER BY key DESC" : " ORDER BY key";
  if (limit !== undefined && Number.isFinite(limit)) {
    sql += " LIMIT ?";
    params.push(Math.floor(limit));
  }
  return { sql, params };
}

/**
 * The smallest string greater than every string starting with `prefix`, in UTF-8 byte order
 * (which is code point order): the prefix with its last code point incremented, dropping
 * trailing code points that cannot be incremented. Undefined when there is none.
 */
export function successor(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0)!);
  while (points.length > 0) {
    const last = points.pop()!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      points.push(next);
      return String.fromCodePoint(...points);
    }
  }
  return undefined;
}

/** Orders two keys as SQLite's BINARY collation does: by their UTF-8 bytes. */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
