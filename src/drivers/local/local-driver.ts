import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { ControlStore, DatabaseHandle, StorageDriver } from "../../core/storage/driver.ts";
import { LocalAlarmIndex } from "./alarm-index.ts";
import { LocalControlStore } from "./control-store.ts";
import { type OpenDatabase, OpenDatabases } from "./open-databases.ts";
import {
  closeSqliteFile,
  FileSync,
  openSqliteFile,
  recoverKeptWal,
  startSyncing,
  syncDirectory,
} from "./sqlite-file.ts";

/** Options of the local driver. */
export interface LocalDriverOptions {
  /** Directory holding one folder per namespace, one SQLite file per object. */
  dataDir: string;
  /**
   * Object databases open at once (default 2,000; each costs about 190 KB of memory and three
   * file descriptors). Objects opened once are closed soon; past the limit, the least recently
   * used idle connections close. Either way they reopen on their next use. See `OpenDatabases`.
   */
  maxOpenDatabases?: number;
  /**
   * Test hook: runs before each durability flush of an object. Delay it to model a slow disk;
   * throw to model a failed flush.
   */
  beforeFlush?: (object: { namespace: string; id: string }) => void | Promise<void>;
}

const OBJECT_FILE = /^([0-9a-f]{64})\.sqlite$/;
const CONTROL_FILE = "stead-control.sqlite";
const DEFAULT_MAX_OPEN = 2_000;

/**
 * Storage on this machine: `<dataDir>/<namespace>/<id>.sqlite` per object, plus a control
 * database for the alarm index, the namespace records and the applied migrations. Durability is
 * an fdatasync of the WAL on libuv's thread pool, so a slow disk delays only the outputs waiting
 * on it, never the event loop.
 *
 * Connections are a bounded cache (`OpenDatabases`): an object that leaves memory closes its
 * database at once, objects opened once are closed soon, and past `maxOpenDatabases` the least
 * recently used idle connection is closed. Closing never fsyncs on the event loop
 * (`closeSqliteFile`).
 */
export class LocalDriver implements StorageDriver {
  readonly dataDir: string;
  readonly alarms: LocalAlarmIndex;
  readonly control: ControlStore;
  readonly #control: DatabaseSync;
  readonly #controlWal: FileSync;
  #controlDirty = false;
  #closed = false;
  readonly #maxOpen: number;
  readonly #beforeFlush: LocalDriverOptions["beforeFlush"];
  /** Handles of objects the runtime has open, by `namespace/id`. */
  readonly #handles = new Map<string, LocalDatabaseHandle>();
  /** Handles with an open connection, and which of them to close next. */
  readonly #open: OpenDatabases<LocalDatabaseHandle>;
  /** The rest of closes (see `closeSqliteFile`) waiting to run, oldest first. */
  readonly #finishes: Array<() => Promise<void>> = [];
  /** Of those, how many are running now. */
  #finishing = 0;
  /** Called when no close is waiting or running. */
  readonly #finished: Array<() => void> = [];
  /** Closes so far, numbering them. */
  #closes = 0;
  /** Database path -> its latest close still finishing, unless reopened since. */
  readonly #lastClose = new Map<string, number>();
  readonly #knownDirs = new Set<string>();
  readonly #dirSyncs = new Map<string, FileSync>();

  constructor(options: LocalDriverOptions) {
    this.dataDir = options.dataDir;
    this.#maxOpen = options.maxOpenDatabases ?? DEFAULT_MAX_OPEN;
    if (!Number.isInteger(this.#maxOpen) || this.#maxOpen < 1) {
      throw new RangeError(
        `LocalDriver maxOpenDatabases must be a positive integer, got ${String(options.maxOpenDatabases)}.`,
      );
    }
    this.#open = new OpenDatabases(this.#maxOpen);
    this.#beforeFlush = options.beforeFlush;
    mkdirSync(this.dataDir, { recursive: true });
    const controlPath = join(this.dataDir, CONTROL_FILE);
    this.#control = openSqliteFile(controlPath);
    this.#controlWal = new FileSync(`${controlPath}-wal`, { preallocate: true });
    this.alarms = new LocalAlarmIndex(this.#control, () => {
      this.#controlDirty = true;
    });
    this.control = new LocalControlStore(this.#control, () => this.#syncControl());
  }

  /** Object databases open now (at most `maxOpenDatabases`, unless all of them are in use). */
  get openDatabases(): number {
    return this.#open.size;
  }

  openObject(namespace: string, id: string, onClose?: () => void): DatabaseHandle {
    const key = `${namespace}/${id}`;
    let handle = this.#handles.get(key);
    if (handle) return handle;
    const dir = join(this.dataDir, namespace);
    if (!this.#knownDirs.has(dir)) {
      if (!existsSync(dir)) {
        mkdirSync(dir, { recursive: true });
        syncDirectory(this.dataDir);
      }
      this.#knownDirs.add(dir);
    }
    handle = new LocalDatabaseHandle(this, namespace, id, join(dir, `${id}.sqlite`), onClose);
    this.#handles.set(key, handle);
    return handle;
  }

  listObjects(namespace: string): string[] {
    const dir = join(this.dataDir, namespace);
    if (!existsSync(dir)) return [];
    const ids: string[] = [];
    for (const file of readdirSync(dir)) {
      const match = OBJECT_FILE.exec(file);
      if (match) ids.push(match[1]!);
    }
    return ids;
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
    this.alarms.deleteNamespace(namespace);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const handles = [...this.#handles.values()];
    this.#handles.clear();
    await Promise.allSettled(handles.map((h) => h.pendingFlush()));
    for (const handle of handles) handle.disconnect();
    // Nothing competes for the thread pool any more: finish the closes several at a time.
    this.#runFinishes();
    await new Promise<void>((resolve) => {
      if (this.#finishing === 0) resolve();
      else this.#finished.push(resolve);
    });
    if (this.#controlDirty) await this.#controlWal.sync().catch(() => {});
    this.#controlWal.close();
    for (const sync of this.#dirSyncs.values()) sync.close();
    this.#control.close();
  }

  /** @internal Runs before each object flush: the test hook, then the control database. */
  async beforeFlush(namespace: string, id: string): Promise<void> {
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

  /** @internal Makes files created in `dir` so far durable (batched per directory). */
  syncDirectory(dir: string): Promise<void> {
    let sync = this.#dirSyncs.get(dir);
    if (sync === undefined) {
      sync = new FileSync(dir);
      this.#dirSyncs.set(dir, sync);
    }
    return sync.sync();
  }

  /** @internal `handle` is about to open its connection: close others to stay under the cap. */
  opening(handle: LocalDatabaseHandle): void {
    this.#open.opening(handle);
  }

  /**
   * @internal `handle` closed its connection; `finish` (see `closeSqliteFile`) is the rest of
   * the close. Those run one at a time, so closes never crowd the thread pool that commits
   * wait on.
   */
  disconnected(
    handle: LocalDatabaseHandle,
    finish?: (stillClosed: () => boolean) => Promise<void>,
  ): void {
    this.#open.closed(handle);
    if (finish === undefined) return;
    const path = handle.path;
    const close = ++this.#closes;
    this.#lastClose.set(path, close);
    const stillClosed = () => this.#lastClose.get(path) === close;
    this.#finishes.push(async () => {
      await finish(stillClosed);
      if (stillClosed()) this.#lastClose.delete(path);
    });
    this.#runFinishes();
  }

  /** Runs waiting closes: one at a time while serving, four at a time once closing. */
  #runFinishes(): void {
    const limit = this.#closed ? 4 : 1;
    while (this.#finishing < limit && this.#finishes.length > 0) {
      const run = this.#finishes.shift()!;
      this.#finishing++;
      // Never rejects (`closeSqliteFile`); settle the same way if it somehow did.
      const done = () => {
        this.#finishing--;
        this.#runFinishes();
        if (this.#finishing === 0) for (const resolve of this.#finished.splice(0)) resolve();
      };
      run().then(done, done);
    }
  }

  /** @internal The database at `path` is opening: closes still finishing must leave it be. */
  reopening(path: string): void {
    this.#lastClose.delete(path);
  }

  /** @internal The object left memory: close its database now. */
  release(handle: LocalDatabaseHandle): void {
    if (this.#handles.get(handle.key) === handle) this.#handles.delete(handle.key);
    handle.disconnect();
  }
}

/** One object's database file and its WAL syncer. */
class LocalDatabaseHandle implements DatabaseHandle, OpenDatabase {
  readonly key: string;
  /** Used since the last CLOCK sweep passed it. */
  used = false;
  readonly #driver: LocalDriver;
  readonly #namespace: string;
  readonly #id: string;
  readonly path: string;
  readonly #onClose: (() => void) | undefined;
  #db: DatabaseSync | undefined;
  #wal: FileSync | undefined;
  /** The file was created and its directory entry is not yet known durable. */
  #created = false;
  /** The connection left `syncLater` mode (see `openSqliteFile`). */
  #syncing = false;
  #holds = 0;
  /** Bumped whenever the connection closes, so holds of an earlier connection are ignored. */
  #generation = 0;
  #lastFlush: Promise<void> | undefined;

  constructor(
    driver: LocalDriver,
    namespace: string,
    id: string,
    path: string,
    onClose: (() => void) | undefined,
  ) {
    this.#driver = driver;
    this.#namespace = namespace;
    this.#id = id;
    this.path = path;
    this.#onClose = onClose;
    this.key = `${namespace}/${id}`;
  }

  get sqlite(): DatabaseSync {
    const db = this.#db;
    if (db !== undefined) {
      this.used = true;
      return db;
    }
    return this.#connect();
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
    const wal = this.#wal;
    if (wal === undefined) return this.#lastFlush ?? Promise.resolve();
    const created = this.#created;
    this.#created = false;
    // The first flush of a connection syncs the new WAL (and the directory of a new file) off
    // the event loop; from now on SQLite's own checkpoints sync as usual.
    if (!this.#syncing) {
      this.#syncing = true;
      startSyncing(this.#db!);
      // The connection's first event is over: a use from now on is a use again (`OpenDatabase`).
      this.used = false;
    }
    const flush = wal.sync(async () => {
      await this.#driver.beforeFlush(this.#namespace, this.#id);
      if (created) await this.#driver.syncDirectory(dirname(this.path));
    });
    this.#lastFlush = flush;
    return flush;
  }

  close(): void {
    this.#driver.release(this);
  }

  reopen(): void {
    this.disconnect();
  }

  /** @internal Resolves when the last flush settled. */
  pendingFlush(): Promise<void> {
    return this.#lastFlush ?? Promise.resolve();
  }

  /** @internal Closes the connection (rolling back an open transaction); the next use reopens. */
  disconnect(): void {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    this.#holds = 0;
    this.#generation++;
    this.used = false;
    // Flushes already requested must reach the WAL's data even after the close unlinks it.
    const wal = this.#wal!;
    this.#wal = undefined;
    wal.openNow();
    wal.close();
    this.#driver.disconnected(this, closeSqliteFile(db, this.path));
    this.#onClose?.();
  }

  #connect(): DatabaseSync {
    this.#driver.opening(this);
    let db: DatabaseSync;
    try {
      this.#driver.reopening(this.path);
      recoverKeptWal(this.path);
      // A file created by an earlier connection that never flushed still needs its directory
      // synced.
      if (!this.#created) this.#created = !existsSync(this.path);
      db = openSqliteFile(this.path, { syncLater: true });
    } catch (error) {
      this.#driver.disconnected(this);
      throw error;
    }
    this.#db = db;
    this.#syncing = false;
    this.#wal = new FileSync(`${this.path}-wal`, { preallocate: true });
    this.used = true;
    return db;
  }
}
