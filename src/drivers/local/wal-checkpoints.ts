import type { DatabaseSync } from "node:sqlite";
import type { ReadAt } from "../sqlite-wal/wal-frames.ts";
import type { CommitSync } from "./journal-sync.ts";
import type { ObjectHistory } from "./object-history.ts";
import { checkpointSqliteFile, FileSync } from "./sqlite-file.ts";
import type { UnsyncedFiles } from "./unsynced-files.ts";

/**
 * A connection so busy that its WAL is never quiet checkpoints anyway after this many times
 * `afterCommits` commits (1,024 by default), syncing the WAL on the event loop first, as SQLite's
 * own automatic checkpoint would (it comes after 1,000 pages).
 */
const FORCE_FACTOR = 16;

/** What a checkpoint needs of the connection at the moment it runs. */
export interface CheckpointedConnection {
  /** The open connection; undefined while closed. */
  readonly db: DatabaseSync | undefined;
  /** What makes its commits durable; undefined while closed. */
  readonly commitSync: CommitSync | undefined;
  /** A transaction or a cursor holds the connection. */
  readonly held: boolean;
}

export interface WalCheckpointsOptions {
  /** The database file. */
  readonly path: string;
  /** Commits after which a quiet WAL is checkpointed. */
  readonly afterCommits: number;
  /** The object's history, when kept: it must hold the WAL's frames before a checkpoint. */
  readonly history: ObjectHistory | undefined;
  readonly readWal: ReadAt;
  /** Where a checkpoint's write to the database file is noted until its sync. */
  readonly unsynced: UnsyncedFiles;
  /** The connection as it is now. */
  readonly connection: () => CheckpointedConnection;
}

/**
 * The checkpoints of one object's database (`LocalDatabaseHandle`'s). SQLite never checkpoints
 * by itself (`openSqliteFile`): after `afterCommits` commits, the connection checkpoints at its
 * next quiet moment, when a flush finished and nothing was committed meanwhile, so every frame
 * in the WAL is durable. That keeps the WAL short: it restarts from its first frame, and commits
 * overwrite blocks the file already has.
 *
 * A checkpoint writes the database file at `synchronous=OFF`, and is followed by an fdatasync of
 * the database file on the thread pool (with history's, when the checkpoint wrote history).
 * Until that sync finishes the connection must not write: SQLite's next commit restarts the WAL
 * over frames the database file may not durably hold yet. So a use of the connection in that
 * window (`syncing`; rare: a quiet object is not used again within the sync's fraction of a
 * millisecond) first finishes the sync on the event loop (`finishSync`).
 *
 * Two kinds of connection are never quiet: one whose commits keep coming while its flushes run
 * is checkpointed anyway after 16 times as many commits, syncing the WAL on the event loop
 * first; one whose writes wait in an open transaction during every flush (a busy object's, see
 * `Transactions`) is checkpointed right after its next commit, made durable the same way.
 */
export class WalCheckpoints {
  readonly #options: WalCheckpointsOptions;
  /**
   * Set while the database file's sync after a checkpoint runs (its file descriptor is closed
   * after it, so an open object costs no extra descriptor between checkpoints).
   */
  #dbSync: FileSync | undefined;
  /** Commits of this connection since its last checkpoint. */
  #commits = 0;
  /** A flush is set to try a checkpoint when it finishes. */
  #armed = false;
  /** History is being made durable so that a checkpoint can follow (`#settleHistory`). */
  #historySettling = false;
  /** The last checkpoint attempt found the WAL busy: flushes leave history to the background. */
  #walBusy = false;
  /** The last checkpoint attempt found a transaction open (or a cursor): see the class doc. */
  #blocked = false;
  /** Bumped whenever the connection closes: what an earlier connection started stops there. */
  #generation = 0;

  constructor(options: WalCheckpointsOptions) {
    this.#options = options;
  }

  /** The last checkpoint's sync of the database file is still running (see `finishSync`). */
  get syncing(): boolean {
    return this.#dbSync !== undefined;
  }

  /** A new connection opened: its WAL starts uncounted. */
  connected(): void {
    this.#commits = 0;
    this.#walBusy = false;
    this.#blocked = false;
  }

  /**
   * The connection closed (its close syncs the database file before it lets go of the WAL,
   * `closeSqliteFile`): a checkpoint's sync still running is dropped with it.
   */
  disconnected(): void {
    this.#generation++;
    this.#dbSync?.close();
    this.#dbSync = undefined;
  }

  /**
   * Call with each commit's flush (`sync`, right after COMMIT; `quiet`: no sync of the WAL was
   * running or waiting before it). Counts the commit and, once the WAL is due, checkpoints now
   * or when the flush settles. Returns the flush to wait for: the sync, and history's when a
   * commit that comes alone arms a checkpoint.
   */
  afterCommit(sync: Promise<void>, quiet: boolean): Promise<void> {
    const due = ++this.#commits >= this.#options.afterCommits;
    if (!due) return sync;
    const history = this.#options.history;
    let flush = sync;
    if (this.#blocked) {
      // Writes came during every flush since the WAL was due: checkpoint right after this
      // commit (one sync on the event loop per checkpoint).
      this.#blocked = false;
      this.#checkpoint(true);
      return flush;
    }
    if (
      quiet &&
      !this.#armed &&
      !this.#walBusy &&
      history !== undefined &&
      !this.#historySettling
    ) {
      // The checkpoint needs history to hold the WAL's frames durably. When commits come one
      // at a time, the flush that arms it waits for that too (alongside the WAL's sync, not
      // after it), so a caller that waits for each commit finds the WAL quiet and history
      // durable when it ends. Under load more commits follow before the checkpoint anyway:
      // history is then written by the checkpoint and synced beside the database file, one
      // history sync per checkpoint rather than two.
      flush = Promise.all([sync, this.#settleHistory().catch(ignore)]).then(ignore);
    }
    if (!this.#armed) {
      this.#armed = true;
      const generation = this.#generation;
      // A failed flush resets the object, which closes the connection: no checkpoint then.
      flush.then(
        () => {
          this.#armed = false;
          if (generation === this.#generation) this.#checkpoint();
        },
        () => {
          this.#armed = false;
        },
      );
    }
    return flush;
  }

  /**
   * The connection is about to be used while its checkpoint's syncs run (the database file's,
   * and history's when the checkpoint wrote records): finishes them here, on the event loop.
   */
  finishSync(): void {
    const dbSync = this.#dbSync;
    if (dbSync === undefined) return;
    dbSync.syncNow();
    this.#options.history?.settleNow();
    this.#trimHistory();
    this.#dbSync = undefined;
    dbSync.close();
  }

  /**
   * Checkpoints when every committed frame is durable: no commit came since the last flush's
   * sync started, or (`force`, or a busy WAL long overdue) after syncing the WAL here. Never
   * inside a transaction or under a cursor: the next commit tries again, forced (`#blocked`).
   */
  #checkpoint(force = false): void {
    const { db, commitSync: wal, held } = this.#options.connection();
    if (db === undefined || wal === undefined) return;
    if (held || db.isTransaction) {
      this.#blocked = true;
      return;
    }
    const { history, readWal, path } = this.#options;
    let synced: () => void;
    try {
      const forced = force || this.#commits >= FORCE_FACTOR * this.#options.afterCommits;
      this.#walBusy = !wal.idle;
      if (!wal.idle) {
        if (!forced) return;
        wal.syncNow();
      }
      // History takes the WAL's frames now (written, page cache only); its sync joins the
      // database file's below. Both must finish before the connection writes again, as that
      // write restarts the WAL (`finishSync`): until then the WAL keeps every frame.
      history?.capture(readWal);
      history?.writePending();
      synced = this.#options.unsynced.written(path);
      checkpointSqliteFile(db);
    } catch {
      // A failed checkpoint leaves the WAL as it was (it does not restart), so nothing is lost:
      // the next flush tries again. A failing disk shows in the flushes, which reset the object.
      return;
    }
    this.#commits = 0;
    this.#walBusy = false;
    const dbSync = new FileSync(path);
    this.#dbSync = dbSync;
    const historySync = history?.durable === false ? history.settle() : undefined;
    const generation = this.#generation;
    // On failure it stays set: the next use retries the syncs and reports their error.
    const durable = dbSync.sync();
    durable.then(synced, ignore);
    Promise.all([durable, historySync]).then(() => {
      if (this.#dbSync === dbSync) this.#dbSync = undefined;
      dbSync.close();
      if (generation === this.#generation) this.#trimHistory();
    }, ignore);
  }

  /** Background retention trimming, bounded to once per interval per object (`trimIfDue`). */
  #trimHistory(): void {
    const history = this.#options.history;
    if (history === undefined || !history.durable) return;
    try {
      history.trimIfDue();
    } catch {
      // Trimming only saves space; a failure leaves history longer, never wrong. Tried later.
    }
  }

  /**
   * Makes the history captured so far durable off the event loop, one settle at a time, then
   * tries the checkpoint again if the WAL is due for one. Commits that come meanwhile stay in the
   * WAL; a later settle covers them.
   */
  #settleHistory(): Promise<void> {
    const history = this.#options.history!;
    try {
      history.capture(this.#options.readWal);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#historySettling = true;
    const generation = this.#generation;
    const settled = history.settle();
    settled.then(
      () => {
        this.#historySettling = false;
        if (generation !== this.#generation) return;
        this.#trimHistory();
        if (this.#armed) return;
        if (this.#commits >= this.#options.afterCommits) this.#checkpoint();
      },
      () => {
        // A failing disk shows in the next flushes; the WAL keeps every frame until then.
        this.#historySettling = false;
      },
    );
    return settled;
  }
}

function ignore(): void {}
