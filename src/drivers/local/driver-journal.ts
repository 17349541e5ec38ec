import { existsSync } from "node:fs";
import { join } from "node:path";
import { threadId } from "node:worker_threads";
import type { DataDirLock } from "./data-dir-lock.ts";
import { fileSystemError } from "./file-errors.ts";
import { type JournalReplay, replayJournal } from "./journal-replay.ts";
import { NodeJournal } from "./node-journal.ts";
import { KEPT_WAL, syncFileOffLoop } from "./sqlite-file.ts";
import type { UnsyncedFiles } from "./unsynced-files.ts";

const JOURNAL_DIR = "journal";
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Locks whose data directory's journal was replayed (a lock shared by several drivers replays once). */
const replayedUnder = new WeakSet<DataDirLock>();
/** Journals this thread opened, numbering their files. */
let journalsOpened = 0;

/** What a `LocalDriver` needs to open its part of the node journal (docs/durability.md). */
export interface DriverJournalOptions {
  dataDir: string;
  /** The lock the driver uses the directory under; "held": a thread's driver, which never replays. */
  lock: DataDirLock | "held";
  /** Whether this driver journals its commits, or syncs each WAL. */
  durability: "journal" | "wal";
  segmentBytes: number | undefined;
  /** Database files written and not yet synced: the others need no sync to settle. */
  unsynced: UnsyncedFiles;
  /** Test hook: runs after each record the replay wrote back. */
  afterReplayedRecord: ((records: number) => void) | undefined;
}

/**
 * Replays the journal a crash left, when this driver is the first under its lock (whatever its
 * own mode: a journal from an earlier start in journal mode must not be lost), then opens this
 * driver's journal in journal mode. Throws `fileSystemError`s naming the journal directory.
 */
export function openDriverJournal(options: DriverJournalOptions): {
  journal: NodeJournal | undefined;
  replay: JournalReplay | undefined;
} {
  const { dataDir, lock } = options;
  const dir = join(dataDir, JOURNAL_DIR);
  let replay: JournalReplay | undefined;
  try {
    // Before anything opens an object. Threads' drivers come after the one that replays.
    if (lock !== "held" && !replayedUnder.has(lock)) {
      replayedUnder.add(lock);
      replay = replayJournal(dataDir, dir, options.afterReplayedRecord);
    }
    const journal =
      options.durability === "journal"
        ? new NodeJournal({
            dir,
            name: `${process.pid}-${threadId}-${journalsOpened++}`,
            segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES,
            settle: (keys) => settleObjectFiles(dataDir, keys, options.unsynced),
          })
        : undefined;
    return { journal, replay };
  } catch (error) {
    throw fileSystemError(dir, dataDir, error);
  }
}

/**
 * Makes the objects' own files hold everything committed to them so far, durably, so the
 * journal can forget their records: their WAL (the latest frames), a WAL a close kept aside,
 * and the database file if anything wrote it since its last sync (`UnsyncedFiles`). Two at a
 * time on the thread pool, beside the journal's own syncs.
 */
async function settleObjectFiles(
  dataDir: string,
  keys: readonly string[],
  unsynced: UnsyncedFiles,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const path = join(dataDir, keys[next++]!);
      await syncIfThere(`${path}-wal`);
      // Rarely there (a close still syncing): a stat is cheaper than a failed open.
      const kept = `${path}${KEPT_WAL}`;
      if (existsSync(kept)) await syncIfThere(kept);
      // Checked after the WAL's sync: a checkpoint after the check leaves the frames it copies
      // in the (now durable) WAL until its own sync of the database file is done.
      if (unsynced.has(path)) await syncIfThere(path);
    }
  };
  await Promise.all([worker(), worker()]);
}

/**
 * `syncFileOffLoop`, where a file gone meanwhile needs nothing (recycled by a close after its
 * sync, or its namespace deleted).
 */
function syncIfThere(path: string): Promise<void> {
  return syncFileOffLoop(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
}
