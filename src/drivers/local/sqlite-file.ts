import { closeSync, fdatasync, fsyncSync, openSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";

/**
 * Opens a SQLite file the way every Stead database is opened. WAL with `synchronous=NORMAL`:
 * COMMIT writes the WAL but does not fsync on the event loop; the caller makes commits durable
 * with an asynchronous `fdatasync` of the WAL (`FileSync`). EXCLUSIVE locking keeps the WAL index
 * in memory and refuses a second process opening the same object.
 */
export function openSqliteFile(path: string, options: { fresh?: boolean } = {}): DatabaseSync {
  const db = new DatabaseSync(path, { timeout: 0, allowExtension: false });
  try {
    // A new file stays at synchronous=OFF until its first flush (see `LocalDatabaseHandle`):
    // otherwise SQLite fsyncs the new journal, WAL header and directory on the event loop.
    db.exec(
      `PRAGMA synchronous = OFF; PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; ${options.fresh ? "" : "PRAGMA synchronous = NORMAL;"} PRAGMA journal_size_limit = 4194304;`,
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
 * Makes a file (a WAL) or a directory (new files in it) durable off the event loop: one
 * fdatasync at a time on libuv's thread pool, with the calls made meanwhile batched into the next.
 */
export class FileSync {
  readonly #path: string;
  #fd: number | undefined;
  #inflight: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #closing = false;

  constructor(path: string) {
    this.#path = path;
  }

  /** Resolves once everything written to the WAL before the call is on disk; in call order. */
  sync(before?: () => void | Promise<void>): Promise<void> {
    // A sync that has not started yet covers this call too: that is the group commit.
    if (this.#queued) return this.#queued;
    if (!this.#inflight) return this.#start(before);
    const queued = this.#inflight.then(ignore, ignore).then(() => {
      this.#queued = undefined;
      return this.#start(before);
    });
    this.#queued = queued;
    return queued;
  }

  /** Closes the file once pending syncs finish. */
  close(): void {
    this.#closing = true;
    const fd = this.#fd;
    if (fd === undefined) return;
    this.#fd = undefined;
    const done = () => closeSync(fd);
    const pending = this.#queued ?? this.#inflight;
    if (pending) pending.then(done, done);
    else done();
  }

  #start(before: (() => void | Promise<void>) | undefined): Promise<void> {
    const run = this.#run(before);
    this.#inflight = run;
    const done = () => {
      if (this.#inflight === run) this.#inflight = undefined;
    };
    run.then(done, done);
    return run;
  }

  async #run(before: (() => void | Promise<void>) | undefined): Promise<void> {
    await before?.();
    if (this.#fd === undefined && !this.#closing) this.#fd = openSync(this.#path, "r");
    const fd = this.#fd;
    if (fd === undefined) return;
    await new Promise<void>((resolve, reject) => {
      fdatasync(fd, (error) => (error ? reject(error) : resolve()));
    });
  }
}

function ignore(): void {}

/** fsyncs a directory so a file created in it survives power loss (blocking; rare paths only). */
export function syncDirectory(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
