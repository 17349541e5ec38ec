import { readFileSync, rmSync } from "node:fs";
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
CREATE TABLE IF NOT EXISTS names_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
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
 * the event loop, in one transaction. One lost with the process is written again the next time
 * its object opens.
 *
 * While serving, the file is never synced, so names never make an event loop wait for the disk:
 * `synchronous=OFF`, its checkpoints included. That is safe when the process dies (what it wrote
 * is the kernel's), not when the machine does: a checkpoint cut short by a power loss can leave
 * the file damaged. So the first driver on the data directory (`primary`) records, durably, that
 * the file is in use, and on the boot it was opened in; a clean close makes it durable and
 * records that. A file found in use since another boot (or damaged, or on a system with no boot
 * id) is replaced by an empty one at start: its names come back as their objects open.
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
  /** This driver opened the file first and closes it last: it keeps the file's state. */
  readonly #primary: boolean;

  private constructor(db: DatabaseSync, primary: boolean) {
    this.#db = db;
    this.#primary = primary;
    this.#insert = db.prepare(
      "INSERT OR IGNORE INTO object_names (namespace, id, name) VALUES (?, ?, ?)",
    );
    this.#lookup = db.prepare("SELECT name FROM object_names WHERE namespace = ? AND id = ?");
    this.#all = db.prepare("SELECT id, name FROM object_names WHERE namespace = ?");
    this.#deleteNamespace = db.prepare("DELETE FROM object_names WHERE namespace = ?");
  }

  /**
   * Opens (creating) the names database at `path`. `shared`: other drivers of this process open
   * it too (object threads). `primary`: this driver is the first on the data directory and
   * closes after the others; it replaces a file that may be damaged (see the class) by an empty
   * one, and keeps the file's state. `bootId`: the machine's current boot (tests), default
   * Linux's; undefined when unknown.
   */
  static open(
    path: string,
    options: { shared: boolean; primary: boolean; dataDir: string; bootId?: string | undefined },
  ): LocalObjectNames {
    const { shared, primary, dataDir } = options;
    const boot = "bootId" in options ? options.bootId : currentBootId();
    let db: DatabaseSync | undefined;
    try {
      db = openNamesFile(path, shared);
      if (primary && !trusted(db, boot)) {
        db.close();
        db = undefined;
      }
    } catch (error) {
      db?.close();
      if (!primary || !isDamaged(error)) throw databaseOpenError(path, "names", dataDir, error);
      db = undefined;
    }
    try {
      if (db === undefined) {
        for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
        db = openNamesFile(path, shared);
      }
      if (primary) markInUse(db, boot);
    } catch (error) {
      db?.close();
      throw databaseOpenError(path, "names", dataDir, error);
    }
    return new LocalObjectNames(db, primary);
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

  /**
   * Writes what is queued (waiting briefly for another thread's write) and closes. The primary
   * driver, closing last, makes the file durable and records that it was closed cleanly
   * (blocking syncs, once, at shutdown).
   */
  close(): void {
    if (this.#closed) return;
    const db = this.#db;
    db.exec(`PRAGMA busy_timeout = ${CLOSE_BUSY_MS}`);
    this.#write();
    this.#closed = true;
    this.#pending.clear();
    this.#scheduled?.();
    this.#scheduled = undefined;
    try {
      if (this.#primary) markClosed(db);
    } catch {
      // Not recorded as closed cleanly: after a reboot the next start replaces the file.
    } finally {
      db.close();
    }
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
 * The names database, set up: never synced while serving (see `LocalObjectNames`), a writer never
 * sleeps on the event loop for a lock, and the page cache is small (every object thread has a
 * connection; lookups are an operator's, and rare).
 */
function openNamesFile(path: string, shared: boolean): DatabaseSync {
  createPrivateFile(path);
  const db = openSqliteFile(path, { shared });
  try {
    db.exec(
      `PRAGMA synchronous = OFF; PRAGMA busy_timeout = 0; PRAGMA cache_size = -${CACHE_KIB}; ${SCHEMA}`,
    );
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/**
 * Whether the file can be kept: it holds no names, was closed cleanly, or was in use during
 * this boot (the process died, the machine did not). Throws if it is damaged.
 */
function trusted(db: DatabaseSync, boot: string | undefined): boolean {
  if (db.prepare("SELECT 1 FROM object_names LIMIT 1").get() === undefined) return true;
  const state = new Map(
    db
      .prepare("SELECT key, value FROM names_state")
      .all()
      .map((row) => [row.key as string, row.value as string]),
  );
  return state.get("clean") === "1" || (boot !== undefined && state.get("boot") === boot);
}

/**
 * Records that the file is in use during `boot`, in the database file itself and durably
 * before any other write can reach it (a checkpoint at `synchronous=NORMAL` syncs): whatever a
 * power loss then leaves, the file says it was in use.
 */
function markInUse(db: DatabaseSync, boot: string | undefined): void {
  writeState(db, { clean: "0", boot: boot ?? "" });
  checkpointDurably(db);
  db.exec("PRAGMA synchronous = OFF");
}

/**
 * Makes every write durable in the database file (a complete checkpoint at
 * `synchronous=NORMAL`), and only then records a clean close, which SQLite's own checkpoint at
 * close makes durable (it syncs before it deletes the WAL). If another connection keeps the
 * checkpoint from completing, nothing is recorded.
 */
function markClosed(db: DatabaseSync): void {
  if (!checkpointDurably(db)) return;
  writeState(db, { clean: "1" });
}

/** A checkpoint of every frame, synced; true if it completed. Leaves `synchronous=NORMAL`. */
function checkpointDurably(db: DatabaseSync): boolean {
  db.exec("PRAGMA synchronous = NORMAL");
  const row = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").get();
  return row?.busy === 0;
}

function writeState(db: DatabaseSync, values: Record<string, string>): void {
  const put = db.prepare(
    "INSERT INTO names_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  );
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const [key, value] of Object.entries(values)) put.run(key, value);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** This boot of the machine (Linux), or undefined where the system does not say. */
function currentBootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
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
