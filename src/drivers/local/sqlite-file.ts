import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  linkSync,
  open,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { readAt } from "./read-at.ts";
import { SerialSyncs } from "./serial-syncs.ts";

/**
 * Opens a SQLite file the way every Stead database is opened. WAL with EXCLUSIVE locking, which
 * keeps the WAL index in memory. (SQLite's lock on the file does not keep other processes out for
 * long: the syncs below open and close the file, which drops it. The data directory's lock does
 * that; see `DataDirLock`.) COMMIT
 * writes the WAL and never fsyncs on the event loop: the caller makes commits durable with an
 * asynchronous `fdatasync` of the WAL (`FileSync`).
 *
 * `ownSyncs` (object databases): SQLite never syncs at all (`synchronous=OFF`, no automatic
 * checkpoints), and the caller checkpoints with `checkpointSqliteFile` when the WAL is durable,
 * then syncs the database file before the next commit (see `LocalDatabaseHandle`). Otherwise
 * (`synchronous=NORMAL`) SQLite's automatic checkpoints and WAL restarts fsync on the event loop,
 * which is fine for a database written rarely. A new object database gets `OBJECT_PAGE_SIZE`.
 */
export function openSqliteFile(
  path: string,
  options: { ownSyncs?: boolean; shared?: boolean; doubleQuotedStrings?: boolean } = {},
): DatabaseSync {
  // `shared`: other threads of this process open the file too (the control database when objects
  // run on object threads). Normal locking, and a writer waits briefly for another's commit.
  const db = new DatabaseSync(path, {
    timeout: options.shared ? SHARED_BUSY_TIMEOUT_MS : 0,
    allowExtension: false,
    enableDoubleQuotedStringLiterals: options.doubleQuotedStrings === true,
  });
  try {
    db.exec(
      // EXCLUSIVE first: any statement that reads the schema opens the WAL, and opened outside
      // exclusive mode it would get a shared-memory index (-shm file, mmap) for the connection's life.
      `PRAGMA locking_mode = ${options.shared ? "NORMAL" : "EXCLUSIVE"}; PRAGMA synchronous = OFF; ${options.ownSyncs ? `PRAGMA page_size = ${OBJECT_PAGE_SIZE};` : ""} PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = ${MAX_PREALLOCATION}; ${options.ownSyncs ? "PRAGMA wal_autocheckpoint = 0;" : "PRAGMA synchronous = NORMAL;"}`,
    );
  } catch (error) {
    db.close();
    if (error instanceof Error && /locked|busy/i.test(error.message)) {
      throw new Error(
        `The database ${path} is in use by another process. Only one Stead process may serve a data directory; stop the other one or use another --data-dir.`,
        { cause: error },
      );
    }
    throw error;
  }
  return db;
}

/**
 * The page size of a new object database: 1 KiB, not SQLite's 4 KiB. Objects are mostly small,
 * and a commit of one usually changes a page or two, each written to the WAL as a whole frame,
 * read back for the journal and history, and checksummed: with smaller pages every commit moves
 * a quarter of the bytes (bench/RESULTS.md, 2026-12-08: 18-28% less CPU per commit over 1,000
 * objects, new objects made 35% faster). A database keeps the page size it was made with (the
 * pragma does nothing to a file that has pages), so objects made before keep 4 KiB.
 */
export const OBJECT_PAGE_SIZE = 1024;

/** How long a write to a shared database waits for another thread's transaction to end. */
const SHARED_BUSY_TIMEOUT_MS = 10_000;

/**
 * Copies every frame of the WAL into the database file, at `synchronous=OFF` (no fsync), so the
 * next commit restarts the WAL from its start. Call only when every frame in the WAL is durable
 * and no transaction is open, and sync the database file before the connection writes again.
 */
export function checkpointSqliteFile(db: DatabaseSync): void {
  db.exec("PRAGMA wal_checkpoint(PASSIVE)");
}

/** Suffix of a WAL kept under a second name while its database is closed off the event loop. */
export const KEPT_WAL = "-wal.closing";

/**
 * Closes a connection without an fsync on the event loop. SQLite checkpoints the WAL into the
 * database file and deletes the WAL on close, and at `synchronous=NORMAL` it fsyncs the database
 * first (about 1 ms on the main thread). Instead: hard-link the WAL to `<path>-wal.closing`, close
 * at `synchronous=OFF` (the checkpoint writes the database file and unlinks `-wal`, but the
 * frames live on under the second name), then fdatasync the database file on the thread pool and
 * only then drop the kept WAL. A crash in between leaves the kept WAL, which
 * `recoverKeptWal` puts back before the next open, so SQLite replays it.
 *
 * Returns the rest of the close, to run when the thread pool has room (undefined when there is
 * none). It syncs the database file, then recycles the kept WAL as the next connection's `-wal`
 * with its header zeroed (SQLite reads that as an empty WAL), so a reopen writes into blocks
 * already allocated instead of creating and growing a new file. `stillClosed` must say whether
 * the database stayed closed since this close: if it was reopened meanwhile, the reopen took the
 * kept WAL back (`recoverKeptWal`) and it is not this close's to touch. `recycle` false keeps the
 * WAL aside after the sync, for a caller that still needs its frames at the next open. Never rejects: a failure
 * leaves the kept WAL for recovery. `synced` is called once the database file is durable (at
 * once when the close synced it or wrote nothing; never when its sync failed).
 */
export function closeSqliteFile(
  db: DatabaseSync,
  path: string,
  synced: () => void = () => {},
): ((stillClosed: () => boolean, recycle?: boolean) => Promise<void>) | undefined {
  const kept = `${path}${KEPT_WAL}`;
  // Closing rolls an open transaction back anyway; the pragmas below are refused inside one.
  try {
    if (db.isTransaction) db.exec("ROLLBACK");
  } catch {
    // The close below rolls it back.
  }
  try {
    linkSync(`${path}-wal`, kept);
  } catch (error) {
    // No WAL: nothing to checkpoint. Any other failure: close the ordinary way, syncing (the WAL
    // may hold acknowledged frames that SQLite deletes once they are in the database file).
    try {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        db.exec("PRAGMA synchronous = NORMAL");
      }
    } finally {
      db.close();
    }
    synced();
    return undefined;
  }
  try {
    db.exec("PRAGMA synchronous = OFF");
  } finally {
    db.close();
  }
  return (stillClosed, recycle = true) => syncThenRecycle(path, kept, stillClosed, recycle, synced);
}

async function syncThenRecycle(
  path: string,
  kept: string,
  stillClosed: () => boolean,
  recycle: boolean,
  synced: () => void,
): Promise<void> {
  try {
    await syncFileOffLoop(path);
    synced();
    // Kept for the next open, which puts it back (`recoverKeptWal`): its frames are needed then.
    if (!recycle) return;
    // Synchronous from here: no reopen can come between the check and the rename.
    if (!stillClosed()) return;
    if (existsSync(`${path}-wal`)) {
      unlinkSync(kept);
      return;
    }
    const fd = openSync(kept, "r+");
    try {
      writeSync(fd, WAL_HEADER_ZEROS, 0, WAL_HEADER_ZEROS.length, 0);
    } finally {
      closeSync(fd);
    }
    renameSync(kept, `${path}-wal`);
  } catch {
    // The namespace was deleted, or the disk failed: the kept WAL, where it still exists, is
    // what recovery needs.
  }
}

/** SQLite's WAL header, and one frame of a new object's page (a 24-byte header, then the page). */
export const WAL_HEADER_BYTES = 32;
export const WAL_FRAME_BYTES = 24 + OBJECT_PAGE_SIZE;

/** A zeroed WAL header: SQLite reads the file as holding no valid frame. */
const WAL_HEADER_ZEROS = Buffer.alloc(WAL_HEADER_BYTES);

/**
 * fdatasyncs `path` on the thread pool (the open too; the close, which does no I/O, here).
 * Callbacks rather than a `FileHandle`: this runs for every object a journal segment retires.
 */
export function syncFileOffLoop(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    open(path, "r", (error, fd) => {
      if (error !== null) return reject(error);
      fdatasync(fd, (error) => {
        try {
          closeSync(fd);
        } catch {
          // The sync's outcome is what counts; a descriptor that fails to close is gone anyway.
        }
        if (error === null) resolve();
        else reject(error);
      });
    });
  });
}

/**
 * Call before opening `path`: puts back a WAL that `closeSqliteFile` kept aside and did not get to
 * recycle (a crash, or the object is reopened while its close is still syncing), so SQLite
 * replays frames the database file may not durably hold yet. Replaying frames already in the
 * file is harmless.
 */
export function recoverKeptWal(path: string): void {
  const kept = `${path}${KEPT_WAL}`;
  if (!existsSync(kept)) return;
  const wal = `${path}-wal`;
  try {
    // The same file as `-wal`: the close did not get as far as deleting it. Any other `-wal` is
    // a recycled, empty one; the kept WAL replaces it.
    if (existsSync(wal) && statSync(wal).ino === statSync(kept).ino) unlinkSync(kept);
    else renameSync(kept, wal);
  } catch (error) {
    // The close's own recycling got there first, after its database fsync: nothing to recover.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/**
 * Makes a file (a WAL) or a directory (new files in it) durable off the event loop: one
 * fdatasync at a time on libuv's thread pool, with the calls made meanwhile batched into the next.
 */
export class FileSync {
  readonly #path: string;
  readonly #preallocate: boolean;
  readonly #usualSize: number;
  /** How far the file is known to be written (its size after the last zero-fill). */
  #allocated = 0;
  #fd: number | undefined;
  readonly #syncs = new SerialSyncs();
  #closing = false;

  /**
   * `preallocate` (for a WAL): before a sync finds the file grown, extend it with zeros to twice
   * its size (up to `MAX_PREALLOCATION`). An fdatasync after an append must also commit the
   * file's new size to the filesystem journal, which costs about twice the CPU of one after an
   * overwrite; zero-filled room makes most appends overwrites. SQLite's WAL recovery stops at the
   * first invalid frame, and zeros are never a valid frame.
   *
   * `usualSize`: the size the file usually stops growing at (a WAL's, when its checkpoint
   * restarts it). Zeros stop there first, and double from there only if the file grows past it,
   * so a WAL checkpointed on time is not extended just before it restarts.
   */
  constructor(path: string, options: { preallocate?: boolean; usualSize?: number } = {}) {
    this.#path = path;
    this.#preallocate = options.preallocate ?? false;
    this.#usualSize = options.usualSize ?? 0;
  }

  /** Resolves once everything written to the WAL before the call is on disk; in call order. */
  sync(before?: () => void | Promise<void>): Promise<void> {
    return this.#syncs.request(() => this.#run(before));
  }

  #open(): number {
    return openSync(this.#path, this.#preallocate ? "r+" : "r");
  }

  /** No sync is running or waiting: everything written before the last one started is durable. */
  get idle(): boolean {
    return this.#syncs.idle;
  }

  /**
   * Makes everything written so far durable now, on the event loop: for the rare caller that
   * cannot wait. Syncs already running or waiting still run.
   */
  syncNow(): void {
    if (this.#fd === undefined && !this.#closing) this.#fd = this.#open();
    if (this.#fd !== undefined) fdatasyncSync(this.#fd);
  }

  /**
   * Runs on the event loop between SQLite's writes, so the zeros only ever go past the end of
   * what SQLite wrote. Small files stay small: the zeros written are at most the file's size
   * (or 64 KiB), and only once the file has grown since its first sync.
   */
  #growIfAppended(fd: number): void {
    const { size } = fstatSync(fd);
    if (size <= this.#allocated || size >= MAX_PREALLOCATION) return;
    if (this.#allocated === 0) {
      // The file's first sync: an object written once (a cold start) gets no zeros.
      this.#allocated = size;
      return;
    }
    let end = Math.min(MAX_PREALLOCATION, Math.max(2 * size, MIN_PREALLOCATION));
    if (size < this.#usualSize) end = Math.min(end, this.#usualSize);
    writeSync(fd, zeros(end - size), 0, end - size, size);
    this.#allocated = end;
  }

  /**
   * Reads `length` bytes at `position` (fewer at the end of the file) through the descriptor the
   * syncs use, so reading the WAL right after a commit costs no descriptor of its own.
   */
  readAt(length: number, position: number): Buffer {
    if (this.#fd === undefined && !this.#closing) {
      try {
        this.#fd = this.#open();
      } catch (error) {
        // No WAL yet: SQLite creates it with the first write.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") return Buffer.alloc(0);
        throw error;
      }
    }
    const fd = this.#fd;
    if (fd === undefined) return Buffer.alloc(0);
    return readAt(fd, length, position);
  }

  /**
   * Opens the file now if it exists, so syncs already requested reach its data even if the file
   * is unlinked (a closing database) before they start.
   */
  openNow(): void {
    if (this.#fd !== undefined || this.#closing) return;
    try {
      this.#fd = this.#open();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }

  /** Closes the file once pending syncs finish. */
  close(): void {
    this.#closing = true;
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    const done = () => closeSync(fd);
    const pending = this.#syncs.last;
    if (pending) pending.then(done, done);
    else done();
  }

  async #run(before: (() => void | Promise<void>) | undefined): Promise<void> {
    await before?.();
    if (this.#fd === undefined && !this.#closing) this.#fd = this.#open();
    const fd = this.#fd;
    if (fd === undefined) return;
    if (this.#preallocate) this.#growIfAppended(fd);
    await new Promise<void>((resolve, reject) => {
      fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    });
  }
}

/** Past this size a WAL is not extended; SQLite's `journal_size_limit` (see `openSqliteFile`). */
const MAX_PREALLOCATION = 4 * 1024 * 1024;
const MIN_PREALLOCATION = 64 * 1024;
let zeroBuffer = Buffer.alloc(MIN_PREALLOCATION);

function zeros(length: number): Buffer {
  if (zeroBuffer.length < length) zeroBuffer = Buffer.alloc(length);
  return zeroBuffer;
}

/** fdatasyncs a file (blocking; rare paths only). */
export function syncFile(path: string): void {
  syncOpened(path, fdatasyncSync);
}

/** fsyncs a directory so a file created in it survives power loss (blocking; rare paths only). */
export function syncDirectory(path: string): void {
  syncOpened(path, fsyncSync);
}

function syncOpened(path: string, sync: (fd: number) => void): void {
  const fd = openSync(path, "r");
  try {
    sync(fd);
  } finally {
    closeSync(fd);
  }
}
