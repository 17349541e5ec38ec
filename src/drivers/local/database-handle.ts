import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { DatabaseHandle, OpenObjectOptions } from "../../core/storage/driver.ts";
import { closeWithHistory } from "./close-with-history.ts";
import { LocalDatabaseHistory } from "./database-history.ts";
import { databaseOpenError, fileSystemError } from "./file-errors.ts";
import { type CommitSync, JournalSync } from "./journal-sync.ts";
import type { NodeJournal } from "./node-journal.ts";
import { type HistoryOptions, ObjectHistory } from "./object-history.ts";
import type { OpenDatabase } from "./open-databases.ts";
import { createPrivateFile } from "./private-files.ts";
import { SharedWalReads } from "./shared-wal-reads.ts";
import {
  closeSqliteFile,
  FileSync,
  openSqliteFile,
  recoverKeptWal,
  syncFile,
  syncFileOffLoop,
  WAL_FRAME_BYTES,
  WAL_HEADER_BYTES,
} from "./sqlite-file.ts";
import type { UnsyncedFiles } from "./unsynced-files.ts";
import { WalCheckpoints } from "./wal-checkpoints.ts";

/**
 * What a handle needs from the driver that owns it: shared settings, and the calls by which the
 * driver keeps open connections under its cap, batches directory syncs and runs closes one at a
 * time. The driver gives each handle this narrow view, not itself.
 */
export interface HandleOwner {
  readonly dataDir: string;
  /** Commits after which a quiet WAL is checkpointed. */
  readonly checkpointAfterCommits: number;
  /** What each object's history needs; undefined when history is off. */
  readonly historyOptions: HistoryOptions | undefined;
  /** The node journal that makes commits durable; undefined: each WAL's own fdatasync does. */
  readonly journal: NodeJournal | undefined;
  /** Database files written and not yet synced (what the journal must sync to forget them). */
  readonly unsynced: UnsyncedFiles;
  /** Runs before each object flush: the test hook, then the control database's sync. */
  beforeFlush(namespace: string, id: string): Promise<void>;
  /** Makes files created in `dir` so far durable (batched per directory). */
  syncDirectory(dir: string): Promise<void>;
  /** `handle` is about to open its connection: close others to stay under the cap. */
  opening(handle: LocalDatabaseHandle): void;
  /**
   * `handle` closed its connection; `finish` (see `closeSqliteFile`) is the rest of the close,
   * run one at a time so closes never crowd the thread pool that commits wait on.
   */
  disconnected(
    handle: LocalDatabaseHandle,
    finish?: (stillClosed: () => boolean) => Promise<void>,
  ): void;
  /** The database at `path` is opening: closes still finishing must leave it be. */
  reopening(path: string): void;
  /** The object left memory: close its database now. */
  release(handle: LocalDatabaseHandle): void;
  /** The object's database opened with the name its id was made from: record the name. */
  named(namespace: string, id: string, name: string): void;
}

/**
 * One object's database file: its connection (opened on use, closed when the driver says), what
 * makes its commits durable, and the connection's checkpoints (`WalCheckpoints`).
 *
 * SQLite itself never syncs (see `openSqliteFile`). Commits are made durable by the node journal
 * (`JournalSync`) or by an fdatasync of the WAL on the thread pool (`FileSync`), through `flush`.
 */
export class LocalDatabaseHandle implements DatabaseHandle, OpenDatabase {
  readonly key: string;
  readonly path: string;
  /** Used since the last CLOCK sweep passed it. */
  used = false;
  readonly #driver: HandleOwner;
  readonly #namespace: string;
  readonly #id: string;
  readonly #onClose: (() => void) | undefined;
  /** The name to record when the database first opens; cleared once recorded. */
  #name: string | undefined;
  #db: DatabaseSync | undefined;
  /** The WAL's descriptor, for reading frames (and syncing it, without the journal). */
  #wal: FileSync | undefined;
  /** What makes commits durable: `#wal`, or the node journal. Set while connected. */
  #commitSync: CommitSync | undefined;
  /**
   * The journal's reader of this object's WAL, kept across connections: a reconnect continues
   * where it stopped (the WAL a close kept is the same WAL) instead of reading it all again.
   */
  #journalSync: JournalSync | undefined;
  readonly #checkpoints: WalCheckpoints;
  /**
   * Set while the database file or its WAL is new (SQLite creates them on open): their directory
   * entries, and the database file's first page, are not yet known durable. The first flush syncs
   * them, then calls it to clear the file's entry in `unsynced`.
   */
  #created: (() => void) | undefined;
  /** The connection has flushed once (see `OpenDatabase.used`). */
  #flushed = false;
  #holds = 0;
  /** Bumped whenever the connection closes, so holds of an earlier connection are ignored. */
  #generation = 0;
  #lastFlush: Promise<void> | undefined;
  /** The object's history, when the driver keeps one (point-in-time recovery). */
  readonly #history: ObjectHistory | undefined;
  readonly history: LocalDatabaseHistory | undefined;
  /** The WAL, read through `FileSync` (the handle's descriptor), shared by a flush's readers. */
  readonly #walReads = new SharedWalReads(
    (length, position) => this.#wal?.readAt(length, position) ?? Buffer.alloc(0),
  );
  readonly #readWal = this.#walReads.readAt;

  constructor(
    driver: HandleOwner,
    namespace: string,
    id: string,
    path: string,
    opening: OpenObjectOptions,
  ) {
    this.#driver = driver;
    this.#namespace = namespace;
    this.#id = id;
    this.path = path;
    this.#onClose = opening.onClose;
    this.#name = opening.name;
    this.key = `${namespace}/${id}`;
    const options = driver.historyOptions;
    this.#history = options ? new ObjectHistory(path, options) : undefined;
    this.history = this.#history ? new LocalDatabaseHistory(this, this.#history) : undefined;
    this.#checkpoints = new WalCheckpoints({
      path,
      afterCommits: driver.checkpointAfterCommits,
      history: this.#history,
      readWal: this.#readWal,
      unsynced: driver.unsynced,
      connection: () => ({ db: this.#db, commitSync: this.#commitSync, held: this.#holds > 0 }),
    });
  }

  get sqlite(): DatabaseSync {
    const db = this.#db;
    if (db === undefined) return this.#connect();
    this.used = true;
    if (this.#checkpoints.syncing) this.#checkpoints.finishSync();
    return db;
  }

  /** @internal A checkpoint's sync of the database file is still running. */
  get checkpointSyncing(): boolean {
    return this.#checkpoints.syncing;
  }

  /** True while a transaction or a cursor needs this connection to stay open. */
  get held(): boolean {
    return this.#holds > 0;
  }

  hold(): () => void {
    this.#holds++;
    const generation = this.#generation;
    let released = false;
    return () => {
      if (released || generation !== this.#generation) return;
      released = true;
      this.#holds--;
    };
  }

  flush(): Promise<void> {
    // History's scan and the journal's capture (when its sync starts now) read the same new frames.
    return this.#walReads.during(() => this.#flush());
  }

  #flush(): Promise<void> {
    const wal = this.#commitSync;
    if (wal === undefined) return this.#lastFlush ?? Promise.resolve();
    // Right after COMMIT: when the transaction committed (its pages are read at the next capture).
    try {
      this.#history?.note(this.#readWal);
    } catch (error) {
      return Promise.reject(fileSystemError(`${this.path}-wal`, this.#driver.dataDir, error));
    }
    const created = this.#created;
    this.#created = undefined;
    if (!this.#flushed) {
      this.#flushed = true;
      // The connection's first event is over: a use from now on is a use again (`OpenDatabase`).
      this.used = false;
    }
    // A new database: its history file is not created until history is written (a checkpoint
    // or a close); the WAL keeps every frame until then.
    const dir = dirname(this.path);
    // No sync of the WAL running or waiting: the commits come one at a time.
    const quiet = wal.idle;
    const sync = wal.sync(async () => {
      await this.#driver.beforeFlush(this.#namespace, this.#id);
      // New files: their directory entries, and the database file's first page, must be durable
      // with the first commit. SQLite deletes the WAL of a database file that is empty when
      // opened, so a power loss that left a never-synced file empty would lose the WAL's frames.
      if (created !== undefined) {
        await Promise.all([
          this.#driver.syncDirectory(dir),
          syncFileOffLoop(this.path).then(created),
        ]);
      }
    });
    const flush = this.#checkpoints.afterCommit(sync, quiet);
    this.#lastFlush = flush;
    // Opening the WAL to sync it can fail for want of descriptors: say so, and what to do.
    return flush.catch((error: unknown) => {
      throw fileSystemError(`${this.path}-wal`, this.#driver.dataDir, error);
    });
  }

  close(): void {
    this.#driver.release(this);
  }

  reopen(): void {
    this.disconnect();
  }

  /** @internal Opens the connection and brings history up to date with the WAL. */
  captureHistory(): void {
    void this.sqlite;
    this.#history?.capture(this.#readWal);
  }

  /** @internal Resolves when the last flush settled. */
  pendingFlush(): Promise<void> {
    return this.#lastFlush ?? Promise.resolve();
  }

  /**
   * @internal Closes the connection (rolling back an open transaction); the next use reopens.
   * `evicted` (the open-database budget closes a cold object, which likely comes back): a small
   * WAL's history is left unsynced and the WAL kept aside for the next open. Other closes (the
   * object left memory, the driver closes) sync history and recycle the WAL.
   */
  disconnect(evicted = false): void {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    this.#holds = 0;
    this.#generation++;
    this.used = false;
    this.#checkpoints.disconnected();
    // Flushes already requested must reach the WAL's data even after the close unlinks it.
    const wal = this.#wal!;
    const history = this.#history;
    let historyError: unknown;
    const commitSync = this.#commitSync;
    this.#commitSync = undefined;
    try {
      // What the close checkpoints into the database file must be in the journal first.
      if (commitSync instanceof JournalSync) commitSync.captureRest();
    } catch {
      // Unreadable WAL: the close below fails the same way, and the WAL is kept for recovery.
    }
    try {
      // The close checkpoints: the WAL's last transactions into history (written, not synced;
      // written now, on the event loop, so that they outlive a SIGKILL that follows).
      history?.capture(this.#readWal);
      history?.writePending();
    } catch (error) {
      historyError = error;
    }
    this.#wal = undefined;
    wal.openNow();
    wal.close();
    // The close checkpoints into the database file: unsynced until the rest of the close syncs it.
    const synced = this.#driver.unsynced.written(this.path);
    const finish = closeWithHistory(
      closeSqliteFile(db, this.path, synced),
      history,
      historyError,
      evicted,
    );
    this.#driver.disconnected(this, finish);
    this.#onClose?.();
  }

  /**
   * @internal Applies a restore recorded in history (`LocalDatabaseHistory`): with the
   * connection open (so history captured the WAL), checkpoints the whole WAL into the database
   * file and syncs it, closes the connection, and lets history swap the restored image in.
   */
  restoreFromHistory(position: number): void {
    const history = this.#history!;
    const db = this.sqlite;
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    history.capture(this.#readWal);
    history.settleNow();
    syncFile(this.path);
    // Replay must not write the WAL back over the restored file.
    if (this.#commitSync instanceof JournalSync) this.#commitSync.reset();
    this.#commitSync = undefined;
    this.#db = undefined;
    this.#holds = 0;
    this.#generation++;
    this.#checkpoints.disconnected();
    this.#wal?.close();
    this.#wal = undefined;
    db.close();
    this.#driver.disconnected(this);
    this.#onClose?.();
    history.restore(position);
  }

  #connect(): DatabaseSync {
    this.#driver.opening(this);
    let db: DatabaseSync;
    try {
      this.#driver.reopening(this.path);
      recoverKeptWal(this.path);
      // A file created by an earlier connection that never flushed still needs its directory
      // synced. A WAL is missing after a close that could not keep it aside, or a database
      // closed by another SQLite program: SQLite creates it now.
      const fresh = !existsSync(this.path);
      // SQLite writes a new file's first page (and a WAL's first open may): synced at the first flush.
      if (this.#created === undefined && (fresh || !existsSync(`${this.path}-wal`))) {
        this.#created = this.#driver.unsynced.written(this.path);
      }
      // Created here, not by SQLite, for its mode (0600, and its WAL's with it).
      if (fresh) createPrivateFile(this.path);
      db = openSqliteFile(this.path, { ownSyncs: true, doubleQuotedStrings: true });
    } catch (error) {
      this.#driver.disconnected(this);
      throw databaseOpenError(this.path, "object", this.#driver.dataDir, error);
    }
    this.#db = db;
    this.#flushed = false;
    this.#checkpoints.connected();
    const journal = this.#driver.journal;
    // Without the journal its syncs make commits durable; with it, it is only read.
    const wal = new FileSync(`${this.path}-wal`, {
      preallocate: journal === undefined,
      // A WAL checkpointed on time holds about one frame per commit (more for larger ones).
      usualSize: WAL_HEADER_BYTES + (this.#driver.checkpointAfterCommits + 8) * WAL_FRAME_BYTES,
    });
    this.#wal = wal;
    try {
      this.#journalSync ??=
        journal === undefined
          ? undefined
          : new JournalSync(journal, `${this.#namespace}/${this.#id}.sqlite`, this.#readWal);
      this.#commitSync = this.#journalSync ?? wal;
    } catch (error) {
      this.disconnect();
      throw databaseOpenError(`${this.path}-wal`, "object", this.#driver.dataDir, error);
    }
    try {
      this.#history?.connected(this.#readWal);
    } catch (error) {
      this.disconnect();
      throw databaseOpenError(`${this.path}-history`, "object", this.#driver.dataDir, error);
    }
    // Once per handle, that is per instance of the object: a name lost in a crash is recorded
    // again by the next process that opens the object.
    if (this.#name !== undefined) {
      this.#driver.named(this.#namespace, this.#id, this.#name);
      this.#name = undefined;
    }
    this.used = true;
    return db;
  }
}
