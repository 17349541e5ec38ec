import {
  chmodSync,
  closeSync,
  existsSync,
  fchmodSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SteadError } from "../../core/errors.ts";
import { assertWritableDir, databaseOpenError, fileSystemError } from "./file-errors.ts";
import { makePrivateDir, PRIVATE_FILE_MODE } from "./private-files.ts";

/** The lock file: a SQLite database that only `DataDirLock` ever opens. */
export const LOCK_FILE = "stead.lock";
/** The holder's pid, a plain text file next to it, for the message a refused process gives. */
export const PID_FILE = "stead.pid";

const SQLITE_BUSY = 5;

/**
 * The lock that makes a process the only one using a data directory, for the process's whole
 * life (until `release`, or until the process exits however it exits: the kernel drops it).
 *
 * It is SQLite's own POSIX lock on `stead.lock`, held by a connection in exclusive locking mode
 * that wrote once. A POSIX lock is lost when the process closes *any* descriptor of the file, so
 * the file must be one no code path opens with `fs`: Stead syncs its databases by opening and
 * closing them, which is why SQLite's locks on those are not relied on. `stead.lock` is only ever
 * opened by this connection (SQLite itself keeps the descriptors of a locked file open until its
 * locks are gone); the pid lives in another file, `stead.pid`, so reading it never touches the
 * lock. SQLite also tracks locks per file across all connections of a process, so a second
 * acquire in the same process, on any thread, is refused too: share the lock object instead
 * (`LocalDriverOptions.lock`). See docs/data-directory.md, "One process per data directory".
 *
 * @example
 * using lock = DataDirLock.acquire("/var/lib/app");
 * const driver = new LocalDriver({ dataDir: "/var/lib/app", lock });
 */
export class DataDirLock implements Disposable {
  /** The directory it locks, resolved. */
  readonly dataDir: string;
  #db: DatabaseSync | undefined;

  private constructor(dataDir: string, db: DatabaseSync) {
    this.dataDir = dataDir;
    this.#db = db;
  }

  /**
   * Creates `dataDir` if needed (mode 0700) and locks it, recording this process's pid. Throws
   * `DATA_DIR_LOCKED`, naming the directory and the holder's pid, when another process (or
   * another lock in this one) holds it; `DATA_DIR_UNWRITABLE` when it cannot be written.
   */
  static acquire(dataDir: string): DataDirLock {
    const dir = resolve(dataDir);
    try {
      makePrivateDir(dir);
    } catch (error) {
      throw fileSystemError(dir, dir, error);
    }
    assertWritableDir(dir, dir);
    const path = join(dir, LOCK_FILE);
    const created = !existsSync(path);
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: 0, allowExtension: false });
      // MEMORY: no journal file. EXCLUSIVE + a write: the exclusive lock is taken by the write
      // and kept until the connection closes. The write records the pid in the header too.
      db.exec("PRAGMA journal_mode = MEMORY; PRAGMA locking_mode = EXCLUSIVE");
      db.exec(`BEGIN EXCLUSIVE; PRAGMA user_version = ${process.pid}; COMMIT`);
    } catch (error) {
      db?.close();
      if ((error as { errcode?: number }).errcode === SQLITE_BUSY) throw lockedError(dir);
      throw databaseOpenError(path, "lock", dir, error);
    }
    try {
      // By path, not through a descriptor: opening the file here would drop the lock just taken.
      if (created) chmodSync(path, PRIVATE_FILE_MODE);
      writePid(dir);
    } catch (error) {
      db.close();
      throw fileSystemError(dir, dir, error);
    }
    return new DataDirLock(dir, db);
  }

  /**
   * Checks that this process holds the lock of `dataDir` (its pid is the recorded holder's), for
   * a driver told that the process's lock covers it, e.g. on a worker thread. Throws
   * `DATA_DIR_LOCKED` otherwise.
   */
  static assertHeldByThisProcess(dataDir: string): void {
    const dir = resolve(dataDir);
    if (readHolder(dir) === process.pid) return;
    throw new SteadError(
      "DATA_DIR_LOCKED",
      `The data directory ${dir} is not locked by this process (pid ${process.pid}), though the driver was told it is (lock: "held"). Take the lock with DataDirLock.acquire(dataDir) in this process first, or leave the lock option out to take it there.`,
    );
  }

  /** True until `release`. */
  get held(): boolean {
    return this.#db !== undefined;
  }

  /** Lets the next process have the directory. Idempotent. */
  release(): void {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    // The pid file first, while still holding the lock: afterwards it may be the next holder's.
    try {
      if (readHolder(this.dataDir) === process.pid) unlinkSync(join(this.dataDir, PID_FILE));
    } catch {
      // Already gone, or the directory was removed: nothing to tidy.
    }
    db.close();
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function lockedError(dir: string): SteadError {
  const holder = readHolder(dir);
  if (holder === process.pid) {
    return new SteadError(
      "DATA_DIR_LOCKED",
      `The data directory ${dir} is already in use by this process (pid ${holder}): another runtime or LocalDriver here holds its lock. Dispose of that one first, or share its lock (LocalDriver's lock option, createRuntime's dataDirLock).`,
    );
  }
  const who =
    holder === undefined
      ? `another process (its pid is not recorded in ${join(dir, PID_FILE)})`
      : `another process (pid ${holder})`;
  return new SteadError(
    "DATA_DIR_LOCKED",
    `The data directory ${dir} is in use by ${who}. Only one process may use a data directory at a time: stop the other process, or choose another data directory (--data-dir / STEAD_DATA_DIR).`,
  );
}

/** The pid recorded in `stead.pid`, if any. */
function readHolder(dir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(dir, PID_FILE), "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Writes `stead.pid` whole (a reader never sees half of it), mode 0600. */
function writePid(dir: string): void {
  const temporary = join(dir, `${PID_FILE}.${process.pid}`);
  const fd = openSync(temporary, "w", PRIVATE_FILE_MODE);
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, join(dir, PID_FILE));
}

/**
 * A driver's lock of its data directory: takes it unless `lock` says it is held (a lock the
 * caller acquired, or `"held"` on a worker thread of a process that holds it); returns it when
 * the driver took it itself, and so releases it on close.
 */
export function takeDataDirLock(
  dataDir: string,
  lock: DataDirLock | "held" | undefined,
): DataDirLock | undefined {
  if (lock === undefined) return DataDirLock.acquire(dataDir);
  if (lock === "held") {
    DataDirLock.assertHeldByThisProcess(dataDir);
    return undefined;
  }
  if (!lock.held || lock.dataDir !== resolve(dataDir)) {
    throw new RangeError(
      `The storage driver's lock must be a held lock of its data directory ${resolve(dataDir)}, got ${lock.held ? `the lock of ${lock.dataDir}` : "a released lock"}. Pass DataDirLock.acquire(dataDir), or leave lock out.`,
    );
  }
  return undefined;
}
