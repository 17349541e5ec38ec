import { existsSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type {
  AlarmRecord,
  ControlStore,
  JournalStats,
  OpenObjectOptions,
  StorageDriver,
} from "../../core/storage/driver.ts";
import { LocalAlarmIndex } from "./alarm-index.ts";
import { type CloseFinish, CloseQueue } from "./close-queue.ts";
import { LocalControlStore } from "./control-store.ts";
import { type DataDirLock, takeDataDirLock } from "./data-dir-lock.ts";
import { type HandleOwner, LocalDatabaseHandle } from "./database-handle.ts";
import { openDriverJournal } from "./driver-journal.ts";
import { assertWritableDir, databaseOpenError, fileSystemError } from "./file-errors.ts";
import type { JournalReplay } from "./journal-replay.ts";
import type { LocalDriverOptions } from "./local-driver-options.ts";
import type { NodeJournal } from "./node-journal.ts";
import type { HistoryOptions } from "./object-history.ts";
import { LocalObjectNames } from "./object-names.ts";
import { OpenDatabases } from "./open-databases.ts";
import { maxOpenDatabases, openFileLimit } from "./open-file-limit.ts";
import { createPrivateFile, makePrivateDir } from "./private-files.ts";
import { FileSync, openSqliteFile, syncDirectory, syncFile } from "./sqlite-file.ts";
import { UnsyncedFiles } from "./unsynced-files.ts";

export type { LocalDriverOptions } from "./local-driver-options.ts";

const OBJECT_FILE = /^([0-9a-f]{64})\.sqlite$/;
const OBJECT_ID = /^[0-9a-f]{64}$/;
const CONTROL_FILE = "stead-control.sqlite";
const NAMES_FILE = "stead-names.sqlite";
const DEFAULT_CHECKPOINT_AFTER = 64;
/** Cloudflare keeps 30 days of history. */
export const DEFAULT_HISTORY_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Storage on this machine: `<dataDir>/<namespace>/<id>.sqlite` per object, plus a control
 * database for the alarm index, the namespace records and the applied migrations. Durability is
 * an fdatasync of the WAL on libuv's thread pool, so a slow disk delays only the outputs waiting
 * on it, never the event loop.
 *
 * Connections are a bounded cache (`OpenDatabases`): an object that leaves memory closes its
 * database at once, objects opened once are closed soon, and past `maxOpenDatabases` the least
 * recently used idle connection is closed. Neither closing nor checkpointing fsyncs on the
 * event loop (`closeSqliteFile`, `LocalDatabaseHandle`).
 */
export class LocalDriver implements StorageDriver {
  readonly dataDir: string;
  readonly alarms: LocalAlarmIndex;
  readonly control: ControlStore;
  readonly #control: DatabaseSync;
  readonly #controlWal: FileSync;
  #controlDirty = false;
  readonly #names: LocalObjectNames;
  #closed = false;
  readonly #maxOpen: number;
  readonly #checkpointAfterCommits: number;
  readonly #beforeFlush: LocalDriverOptions["beforeFlush"];
  readonly #historyOptions: HistoryOptions | undefined;
  /** The narrow view of this driver its handles get. */
  readonly #owner: HandleOwner;
  /** Handles of objects the runtime has open, by `namespace/id`. */
  readonly #handles = new Map<string, LocalDatabaseHandle>();
  /** Handles with an open connection, and which of them to close next. */
  readonly #open: OpenDatabases<LocalDatabaseHandle>;
  /** The rest of closes (see `closeSqliteFile`), run one at a time while serving. */
  readonly #closing = new CloseQueue();
  readonly #knownDirs = new Set<string>();
  readonly #dirSyncs = new Map<string, FileSync>();
  /** The lock this driver took itself, released on close. */
  readonly #ownLock: DataDirLock | undefined;
  /** The node journal (`durability: "journal"`). */
  readonly #journal: NodeJournal | undefined;
  /** What the start-up replay of the journal did; undefined when this driver did not replay. */
  readonly journalReplay: JournalReplay | undefined;

  constructor(options: LocalDriverOptions) {
    this.dataDir = options.dataDir;
    this.#maxOpen = maxOpenDatabases(options.maxOpenDatabases, openFileLimit());
    this.#checkpointAfterCommits = options.checkpointAfterCommits ?? DEFAULT_CHECKPOINT_AFTER;
    if (!Number.isInteger(this.#checkpointAfterCommits) || this.#checkpointAfterCommits < 1) {
      throw new RangeError(
        `LocalDriver checkpointAfterCommits must be a positive integer, got ${String(options.checkpointAfterCommits)}.`,
      );
    }
    const retentionMs = options.historyRetentionMs ?? DEFAULT_HISTORY_RETENTION_MS;
    if (!Number.isFinite(retentionMs) || retentionMs < 0) {
      throw new RangeError(
        `LocalDriver historyRetentionMs must be a number of milliseconds >= 0 (0 keeps no history), got ${String(options.historyRetentionMs)}.`,
      );
    }
    this.#historyOptions =
      retentionMs === 0
        ? undefined
        : {
            retentionMs,
            now: options.now ?? (() => Date.now()),
            trimmedAt: new Map(),
            syncDirectory: (dir) => this.#syncDirectory(dir),
          };
    const journal = () => this.#journal;
    const unsynced = new UnsyncedFiles();
    this.#owner = {
      dataDir: this.dataDir,
      checkpointAfterCommits: this.#checkpointAfterCommits,
      historyOptions: this.#historyOptions,
      unsynced,
      get journal() {
        return journal();
      },
      beforeFlush: (namespace, id) => this.#beforeObjectFlush(namespace, id),
      syncDirectory: (dir) => this.#syncDirectory(dir),
      opening: (handle) => this.#open.opening(handle),
      disconnected: (handle, finish) => this.#disconnected(handle, finish),
      reopening: (path) => this.#closing.reopening(path),
      named: (namespace, id, name) => this.#names.record(namespace, id, name),
      release: (handle) => this.#release(handle),
    };
    this.#open = new OpenDatabases(this.#maxOpen);
    this.#beforeFlush = options.beforeFlush;
    const controlPath = join(this.dataDir, CONTROL_FILE);
    // The lock comes before anything is written; only creating the directory (to hold the lock
    // file) comes first.
    const createdDir = createDataDir(this.dataDir);
    assertWritableDir(this.dataDir, this.dataDir);
    this.#ownLock = takeDataDirLock(this.dataDir, options.lock);
    try {
      const { journal, replay } = openDriverJournal({
        dataDir: this.dataDir,
        lock: options.lock ?? this.#ownLock!,
        durability: options.durability ?? "journal",
        segmentBytes: options.journalSegmentBytes,
        unsynced,
        afterReplayedRecord: options.afterReplayedRecord,
      });
      this.#journal = journal;
      this.journalReplay = replay;
    } catch (error) {
      this.#ownLock?.release();
      throw error;
    }
    const created = createdDir || !existsSync(controlPath);
    let control: DatabaseSync | undefined;
    try {
      createPrivateFile(controlPath);
      control = openSqliteFile(controlPath, { shared: options.sharedControl === true });
      this.alarms = new LocalAlarmIndex(control, () => {
        this.#controlDirty = true;
      });
      this.control = new LocalControlStore(control, () => this.#syncControl());
    } catch (error) {
      control?.close();
      this.#ownLock?.release();
      throw databaseOpenError(controlPath, "control", this.dataDir, error);
    }
    this.#control = control;
    try {
      this.#names = LocalObjectNames.open(join(this.dataDir, NAMES_FILE), {
        shared: options.sharedControl === true,
        // Object threads' drivers open it after this process's first driver, and close before it.
        primary: options.lock !== "held",
        dataDir: this.dataDir,
      });
    } catch (error) {
      control.close();
      this.#ownLock?.release();
      throw error;
    }
    this.#controlWal = new FileSync(`${controlPath}-wal`, { preallocate: true });
    if (created) {
      // Blocking, once per data directory, once its tables exist: the control database's first
      // page (SQLite deletes the WAL of an empty database file), its WAL and both directory
      // entries must outlive a power loss.
      syncFile(controlPath);
      syncFile(`${controlPath}-wal`);
      syncDirectory(this.dataDir);
    }
  }

  journalStats(): JournalStats | undefined {
    const journal = this.#journal;
    if (journal === undefined) return undefined;
    const { syncs, records, bytes, retired } = journal.stats;
    const replay = this.journalReplay;
    return {
      syncs,
      records,
      bytes,
      size: journal.size,
      retiredSegments: retired,
      replayMs: replay !== undefined && replay.segments > 0 ? replay.ms : undefined,
    };
  }

  /** Object databases open now (at most `maxOpenDatabases`, unless all of them are in use). */
  get openDatabases(): number {
    return this.#open.size;
  }

  openObject(namespace: string, id: string, options?: OpenObjectOptions): LocalDatabaseHandle {
    const key = `${namespace}/${id}`;
    let handle = this.#handles.get(key);
    if (handle) return handle;
    const dir = join(this.dataDir, namespace);
    if (!this.#knownDirs.has(dir)) {
      try {
        if (makePrivateDir(dir) !== undefined) syncDirectory(this.dataDir);
      } catch (error) {
        throw fileSystemError(dir, this.dataDir, error);
      }
      this.#knownDirs.add(dir);
    }
    handle = new LocalDatabaseHandle(
      this.#owner,
      namespace,
      id,
      join(dir, `${id}.sqlite`),
      options ?? {},
    );
    this.#handles.set(key, handle);
    return handle;
  }

  async listObjects(namespace: string): Promise<string[]> {
    const dir = join(this.dataDir, namespace);
    if (!existsSync(dir)) return [];
    const ids: string[] = [];
    for (const file of readdirSync(dir)) {
      const match = OBJECT_FILE.exec(file);
      if (match) ids.push(match[1]!);
    }
    return ids;
  }

  async hasObject(namespace: string, id: string): Promise<boolean> {
    return OBJECT_ID.test(id) && existsSync(join(this.dataDir, namespace, `${id}.sqlite`));
  }

  /**
   * Writes the database beside its place (`<id>.sqlite-restoring`), syncs it, renames it into
   * place and syncs the directory, so a crash leaves the object with its whole database or none.
   * Blocking: restores run in a tool, on a data directory no server holds.
   */
  async restoreObject(
    namespace: string,
    id: string,
    database: Uint8Array,
    { alarm, name }: { alarm?: AlarmRecord | undefined; name?: string | undefined },
  ): Promise<void> {
    const dir = join(this.dataDir, namespace);
    const path = join(dir, `${id}.sqlite`);
    if (this.#handles.has(`${namespace}/${id}`) || existsSync(path)) {
      throw new Error(
        `${namespace} ${id} already has a database (${path}); a restore only fills objects that have none.`,
      );
    }
    const temporary = `${path}-restoring`;
    try {
      if (makePrivateDir(dir) !== undefined) syncDirectory(this.dataDir);
      this.#knownDirs.add(dir);
      rmSync(temporary, { force: true });
      createPrivateFile(temporary);
      writeFileSync(temporary, database);
      syncFile(temporary);
      renameSync(temporary, path);
      syncDirectory(dir);
    } catch (error) {
      throw fileSystemError(path, this.dataDir, error);
    }
    // Written with the next batch, and at the latest when the driver closes.
    if (name !== undefined) this.#names.record(namespace, id, name);
    if (alarm !== undefined) {
      this.alarms.set(alarm);
      await this.#syncControl();
    }
  }

  async objectNames(namespace: string, ids: readonly string[]): Promise<Map<string, string>> {
    return this.#names.names(namespace, ids);
  }

  deleteNamespace(namespace: string): void {
    for (const [key, handle] of this.#handles) {
      if (key.startsWith(`${namespace}/`)) {
        handle.disconnect();
        this.#handles.delete(key);
      }
    }
    const dir = join(this.dataDir, namespace);
    if (existsSync(dir)) {
      rmSync(dir, { recursive: true, force: true });
      // Rare (a migration at startup): a blocking fsync keeps the removal ahead of the record
      // that says it happened.
      syncDirectory(this.dataDir);
    }
    this.#knownDirs.delete(dir);
    // Its descriptor is of the deleted directory: a namespace made again gets a new one.
    this.#dirSyncs.get(dir)?.close();
    this.#dirSyncs.delete(dir);
    this.alarms.deleteNamespace(namespace);
    this.#names.deleteNamespace(namespace);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(handles.map((h) => h.pendingFlush()));
    for (const handle of handles) handle.disconnect();
    // Nothing competes for the thread pool any more: finish the closes several at a time.
    await this.#closing.drain();
    // Every object's files are durable now (each close synced its database file): the journal
    // holds nothing a start would need.
    await this.#journal?.close().catch(() => {});
    if (this.#controlDirty) await this.#controlWal.sync().catch(() => {});
    this.#controlWal.close();
    this.#names.close();
    for (const sync of this.#dirSyncs.values()) sync.close();
    this.#control.close();
    this.#ownLock?.release();
  }

  async #beforeObjectFlush(namespace: string, id: string): Promise<void> {
    await this.#beforeFlush?.({ namespace, id });
    if (this.#controlDirty) {
      this.#controlDirty = false;
      await this.#controlWal.sync();
    }
  }

  /** Makes everything committed to the control database so far durable. */
  #syncControl(): Promise<void> {
    this.#controlDirty = false;
    return this.#controlWal.sync();
  }

  #syncDirectory(dir: string): Promise<void> {
    let sync = this.#dirSyncs.get(dir);
    if (sync === undefined) {
      sync = new FileSync(dir);
      this.#dirSyncs.set(dir, sync);
    }
    return sync.sync();
  }

  #disconnected(handle: LocalDatabaseHandle, finish?: CloseFinish): void {
    this.#open.closed(handle);
    if (finish !== undefined) this.#closing.closed(handle.path, finish);
  }

  #release(handle: LocalDatabaseHandle): void {
    if (this.#handles.get(handle.key) === handle) this.#handles.delete(handle.key);
    handle.disconnect();
  }
}

/**
 * Creates `dataDir` (and missing parents, mode 0700) durably: each new directory's entry is
 * synced in its parent. True if it was created.
 */
function createDataDir(dataDir: string): boolean {
  let first: string | undefined;
  try {
    first = makePrivateDir(dataDir);
  } catch (error) {
    throw fileSystemError(dataDir, dataDir, error);
  }
  if (first === undefined) return false;
  for (let dir = dataDir; ; dir = dirname(dir)) {
    syncDirectory(dirname(dir));
    if (dir === first || dirname(dir) === dir) break;
  }
  return true;
}
