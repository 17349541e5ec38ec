import type { DataDirLock } from "./data-dir-lock.ts";

/** Options of the local driver. */
export interface LocalDriverOptions {
  /**
   * Directory holding one folder per namespace, one SQLite file per object. Created with mode
   * 0700, and the files in it 0600, whatever the umask.
   */
  dataDir: string;
  /**
   * The data-directory lock (see `DataDirLock`): one process at a time uses a data directory.
   * Omitted: the driver takes it, before writing anything, and releases it on `close` (another
   * process holding it is `DATA_DIR_LOCKED`). A `DataDirLock` the caller acquired for this
   * directory: the driver uses the directory under it and leaves releasing it to the caller.
   * `"held"`: this process holds it already (for a driver on a worker thread, where the lock
   * object cannot go); checked against the recorded holder's pid.
   */
  lock?: DataDirLock | "held";
  /**
   * Object databases open at once (each costs about 190 KB of memory and three file
   * descriptors). Default 2,000, or fewer where half the process's open-file limit would not hold
   * them; a value needing more than three quarters of that limit is refused. Objects opened once
   * are closed soon; past the limit, the least recently used idle connections close. Either way
   * they reopen on their next use. See `OpenDatabases` and `maxOpenDatabases`.
   */
  maxOpenDatabases?: number;
  /**
   * Commits after which an object's connection checkpoints its WAL, once the WAL is quiet
   * (default 64; at 16 times that, a WAL that is never quiet is checkpointed anyway). See
   * `LocalDatabaseHandle`.
   */
  checkpointAfterCommits?: number;
  /**
   * Other drivers in this process use the same data directory at once (object threads: one
   * driver per thread, each with its own objects). The control database is then opened in
   * SQLite's normal locking mode, so every driver reads and writes the alarm index; each makes
   * its own index writes durable before its next object flush.
   */
  sharedControl?: boolean;
  /**
   * Point-in-time recovery: keep every committed state of each object for this long (ms), so
   * `getBookmarkForTime` and `onNextSessionRestoreBookmark` can go back to it. Default 30 days,
   * as on Cloudflare; 0 keeps no history (the PITR calls then reject). See
   * docs/point-in-time.md.
   */
  historyRetentionMs?: number;
  /**
   * How commits are made durable. `"journal"` (the default): each commit's WAL frames are
   * appended to one node-level journal, and one fdatasync of it acknowledges the commits of every
   * object made meanwhile (group commit); a start after a crash replays it into the objects'
   * WALs. `"wal"`: an fdatasync of each object's own WAL. See docs/durability.md.
   */
  durability?: "journal" | "wal";
  /** The journal's segment size in bytes (default 64 MiB): it holds about two segments. */
  journalSegmentBytes?: number;
  /** Epoch ms for history timestamps (the runtime's clock). Default `Date.now`. */
  now?: () => number;
  /**
   * Test hook: runs before each durability flush of an object. Delay it to model a slow disk;
   * throw to model a failed flush.
   */
  beforeFlush?: (object: { namespace: string; id: string }) => void | Promise<void>;
  /** Test hook: runs after each journal record the start-up replay wrote back (1, 2, …). */
  afterReplayedRecord?: (records: number) => void;
}
