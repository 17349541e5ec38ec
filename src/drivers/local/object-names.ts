import { rmSync } from "node:fs";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { databaseOpenError } from "./file-errors.ts";
import { createPrivateFile } from "./private-files.ts";
import { openSqliteFile } from "./sqlite-file.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS object_names (
  namespace TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (namespace, id)
) WITHOUT ROWID;
`;

// SQLite primary result codes (the low byte of node:sqlite's `errcode`).
const SQLITE_BUSY = 5;
const SQLITE_CORRUPT = 11;
const SQLITE_NOTADB = 26;

/** After a write found the file locked by another thread, the next try waits this long, ms. */
const RETRY_BUSY_MS = 20;
/** Names waiting past this many (writes keep failing) are dropped: they heal on the next open. */
const MAX_PENDING = 100_000;
/** Past this many ids, a lookup reads the namespace's names instead of one row per id. */
const POINT_LOOKUPS = 1_000;
/** How long a lookup waits for another thread's write before giving up, ms. */
const READ_BUSY_MS = 2_000;
/** How long the last write, at close, may wait for another thread's write, ms. */
const CLOSE_BUSY_MS = 2_000;
/** Page cache per connection, KiB (SQLite's default is 2,000). */
const CACHE_KIB = 512;

/**
 * The names of objects made by `idFromName`, for operators' tools (`StorageDriver.objectNames`),
 * in a database of their own (`stead-names.sqlite`). A cache the runtime never reads: a name is
 * queued when an object's database opens and written with the others queued in the same turn of
 * the event loop, in one transaction whose commit does not wait for the disk (WAL at
 * `synchronous=NORMAL`: only SQLite's automatic checkpoints sync). One lost with the process, or
 * in a power loss, is written again the next time its object opens.
 *
 * With object threads each thread's driver opens the file (`shared`). A writer never waits for
 * another thread's lock on the event loop: a busy file keeps the batch for a later try.
 */
export class LocalObjectNames {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #lookup: StatementSync;
  readonly #all: StatementSync;
  readonly #deleteNamespace: StatementSync;
  /** Names waiting to be written, by `namespace/id`. */
  readonly #pending = new Map<string, { namespace: string; id: string; name: string }>();
  /** Cancels the write scheduled next, if one is. */
  #scheduled: (() => void) | undefined;
  #closed = false;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO object_names (namespace, id, name) VALUES (?, ?, ?)",
    );
    this.#lookup = db.prepare("SELECT name FROM object_names WHERE namespace = ? AND id = ?");
    this.#all = db.prepare("SELECT id, name FROM object_names WHERE namespace = ?");
    this.#deleteNamespace = db.prepare("DELETE FROM object_names WHERE namespace = ?");
  }

  /**
   * Opens (creating) the names database at `path`. `shared`: other drivers of this process open
   * it too (object threads). `repair`: this driver is the first on the data directory, so a
   * damaged file (it holds nothing that cannot come back) is replaced by an empty one.
   */
  static open(
    path: string,
    options: { shared: boolean; repair: boolean; dataDir: string },
  ): LocalObjectNames {
    try {
      return new LocalObjectNames(openNamesFile(path, options.shared));
    } catch (error) {
      if (!options.repair || !isDamaged(error)) {
        throw databaseOpenError(path, "names", options.dataDir, error);
      }
    }
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
    try {
      return new LocalObjectNames(openNamesFile(path, options.shared));
    } catch (error) {
      throw databaseOpenError(path, "names", options.dataDir, error);
    }
  }

  /** Queues `name` of an object for the next write (this turn of the event loop). */
  record(namespace: string, id: string, name: string): void {
    if (this.#closed) return;
    if (this.#pending.size >= MAX_PENDING) this.#pending.clear();
    this.#pending.set(`${namespace}/${id}`, { namespace, id, name });
    if (this.#scheduled === undefined) {
      const immediate = setImmediate(() => {
        this.#scheduled = undefined;
        this.#write();
      }).unref();
      this.#scheduled = () => clearImmediate(immediate);
    }
  }

  /** The recorded names of those of `ids` that have one, by id; writes what is queued first. */
  async names(namespace: string, ids: readonly string[]): Promise<Map<string, string>> {
    this.#write();
    const names = new Map<string, string>();
    for (let waited = 0; ; waited += RETRY_BUSY_MS) {
      try {
        if (ids.length <= POINT_LOOKUPS) {
          for (const id of ids) {
            const row = this.#lookup.get(namespace, id);
            if (row !== undefined) names.set(id, row.name as string);
          }
        } else {
          const wanted = new Set(ids);
          for (const row of this.#all.iterate(namespace)) {
            if (wanted.has(row.id as string)) names.set(row.id as string, row.name as string);
          }
        }
        return names;
      } catch (error) {
        if (!isBusy(error) || waited >= READ_BUSY_MS) throw error;
        names.clear();
        await new Promise((resolve) => setTimeout(resolve, RETRY_BUSY_MS));
      }
    }
  }

  /** Removes every name of `namespace`, queued or written (its class was deleted). */
  deleteNamespace(namespace: string): void {
    for (const [key, entry] of this.#pending) {
      if (entry.namespace === namespace) this.#pending.delete(key);
    }
    // Rare (a migration at start): this one may wait for another thread's write.
    this.#db.exec("PRAGMA busy_timeout = 10000");
    try {
      this.#deleteNamespace.run(namespace);
    } finally {
      this.#db.exec("PRAGMA busy_timeout = 0");
    }
  }

  /** Writes what is queued (waiting briefly for another thread's write), then closes. */
  close(): void {
    if (this.#closed) return;
    this.#db.exec(`PRAGMA busy_timeout = ${CLOSE_BUSY_MS}`);
    this.#write();
    this.#closed = true;
    this.#pending.clear();
    this.#scheduled?.();
    this.#scheduled = undefined;
    this.#db.close();
  }

  /**
   * Writes the queued names in one transaction. Names are advisory: a failure other than a busy
   * file drops them (each is recorded again when its object next opens) rather than failing
   * anything that runs the object.
   */
  #write(): void {
    if (this.#closed || this.#pending.size === 0) return;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      if (isBusy(error)) this.#retryLater();
      else this.#pending.clear();
      return;
    }
    try {
      for (const { namespace, id, name } of this.#pending.values()) {
        this.#insert.run(namespace, id, name);
      }
      this.#db.exec("COMMIT");
    } catch {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
    }
    this.#pending.clear();
  }

  #retryLater(): void {
    if (this.#scheduled !== undefined) return;
    const timer = setTimeout(() => {
      this.#scheduled = undefined;
      this.#write();
    }, RETRY_BUSY_MS).unref();
    this.#scheduled = () => clearTimeout(timer);
  }
}

/**
 * The names database, set up: a writer never sleeps on the event loop for a lock, and the page
 * cache is small (every object thread has a connection; lookups are an operator's, and rare).
 */
function openNamesFile(path: string, shared: boolean): DatabaseSync {
  createPrivateFile(path);
  const db = openSqliteFile(path, { shared });
  try {
    db.exec(`PRAGMA busy_timeout = 0; PRAGMA cache_size = -${CACHE_KIB}; ${SCHEMA}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function primaryCode(error: unknown): number | undefined {
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === "number" ? errcode & 0xff : undefined;
}

function isBusy(error: unknown): boolean {
  return primaryCode(error) === SQLITE_BUSY;
}

function isDamaged(error: unknown): boolean {
  const code = primaryCode(error);
  return code === SQLITE_CORRUPT || code === SQLITE_NOTADB;
}
