import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { ControlStore, DatabaseHandle, StorageDriver } from "../../core/storage/driver.ts";
import { LocalAlarmIndex } from "./alarm-index.ts";
import { LocalControlStore } from "./control-store.ts";
import { FileSync, openSqliteFile, syncDirectory } from "./sqlite-file.ts";

/** Options of the local driver. */
export interface LocalDriverOptions {
  /** Directory holding one folder per namespace, one SQLite file per object. */
  dataDir: string;
  /** Databases of evicted objects kept open for a fast return (default 256). */
  maxIdleOpen?: number;
  /**
   * Test hook: runs before each durability flush of an object. Delay it to model a slow disk;
   * throw to model a failed flush.
   */
  beforeFlush?: (object: { namespace: string; id: string }) => void | Promise<void>;
}

const OBJECT_FILE = /^([0-9a-f]{64})\.sqlite$/;
const CONTROL_FILE = "stead-control.sqlite";

/**
 * Storage on this machine: `<dataDir>/<namespace>/<id>.sqlite` per object, plus a control
 * database for the alarm index, the namespace records and the applied migrations. Durability is an fdatasync of the WAL on libuv's thread pool,
 * so a slow disk delays only the outputs waiting on it, never the event loop.
 */
export class LocalDriver implements StorageDriver {
  readonly dataDir: string;
  readonly alarms: LocalAlarmIndex;
  readonly control: ControlStore;
  readonly #control: DatabaseSync;
  readonly #controlWal: FileSync;
  #controlDirty = false;
  readonly #maxIdleOpen: number;
  readonly #beforeFlush: LocalDriverOptions["beforeFlush"];
  /** Handles of evicted objects, oldest first, kept open. */
  readonly #idle = new Map<string, LocalDatabaseHandle>();
  readonly #open = new Map<string, LocalDatabaseHandle>();
  readonly #knownDirs = new Set<string>();
  readonly #dirSyncs = new Map<string, FileSync>();

  constructor(options: LocalDriverOptions) {
    this.dataDir = options.dataDir;
    this.#maxIdleOpen = options.maxIdleOpen ?? 256;
    this.#beforeFlush = options.beforeFlush;
    mkdirSync(this.dataDir, { recursive: true });
    const controlPath = join(this.dataDir, CONTROL_FILE);
    this.#control = openSqliteFile(controlPath);
    this.#controlWal = new FileSync(`${controlPath}-wal`);
    this.alarms = new LocalAlarmIndex(this.#control, () => {
      this.#controlDirty = true;
    });
    this.control = new LocalControlStore(this.#control, () => this.#syncControl());
  }

  openObject(namespace: string, id: string): DatabaseHandle {
    const key = `${namespace}/${id}`;
    const open = this.#open.get(key);
    if (open) return open;
    let handle = this.#idle.get(key);
    if (handle) {
      this.#idle.delete(key);
    } else {
      const dir = join(this.dataDir, namespace);
      if (!this.#knownDirs.has(dir)) {
        if (!existsSync(dir)) {
          mkdirSync(dir, { recursive: true });
          syncDirectory(this.dataDir);
        }
        this.#knownDirs.add(dir);
      }
      handle = new LocalDatabaseHandle(this, namespace, id, join(dir, `${id}.sqlite`));
    }
    this.#open.set(key, handle);
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
    for (const map of [this.#idle, this.#open]) {
      for (const [key, handle] of map) {
        if (key.startsWith(`${namespace}/`)) {
          handle.closeNow();
          map.delete(key);
        }
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
    const handles = [...this.#open.values(), ...this.#idle.values()];
    this.#open.clear();
    this.#idle.clear();
    await Promise.allSettled(handles.map((h) => h.pendingFlush()));
    for (const handle of handles) handle.closeNow();
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

  /** @internal An object was evicted: keep its handle open in the idle LRU. */
  release(handle: LocalDatabaseHandle): void {
    const key = handle.key;
    if (this.#open.get(key) !== handle) return;
    this.#open.delete(key);
    this.#idle.set(key, handle);
    while (this.#idle.size > this.#maxIdleOpen) {
      const [oldestKey, oldest] = this.#idle.entries().next().value!;
      this.#idle.delete(oldestKey);
      oldest.closeNow();
    }
  }
}

/** One object's database file and its WAL syncer. */
class LocalDatabaseHandle implements DatabaseHandle {
  readonly key: string;
  readonly #driver: LocalDriver;
  readonly #namespace: string;
  readonly #id: string;
  readonly #path: string;
  #db: DatabaseSync | undefined;
  #wal: FileSync | undefined;
  #created = false;
  #lastFlush: Promise<void> | undefined;

  constructor(driver: LocalDriver, namespace: string, id: string, path: string) {
    this.#driver = driver;
    this.#namespace = namespace;
    this.#id = id;
    this.#path = path;
    this.key = `${namespace}/${id}`;
  }

  get sqlite(): DatabaseSync {
    if (this.#db === undefined) {
      this.#created = !existsSync(this.#path);
      this.#db = openSqliteFile(this.#path, { fresh: this.#created });
      this.#wal = new FileSync(`${this.#path}-wal`);
    }
    return this.#db;
  }

  flush(): Promise<void> {
    const wal = this.#wal;
    if (wal === undefined) return Promise.resolve();
    const created = this.#created;
    this.#created = false;
    // The first flush of a new file syncs the WAL and the directory off the event loop; from
    // now on SQLite's own checkpoints sync as usual.
    if (created) this.#db?.exec("PRAGMA synchronous = NORMAL");
    const flush = wal.sync(async () => {
      await this.#driver.beforeFlush(this.#namespace, this.#id);
      if (created) await this.#driver.syncDirectory(dirname(this.#path));
    });
    this.#lastFlush = flush;
    return flush;
  }

  close(): void {
    this.#driver.release(this);
  }

  reopen(): void {
    this.closeNow();
  }

  /** @internal Resolves when the last flush settled. */
  pendingFlush(): Promise<void> {
    return this.#lastFlush ?? Promise.resolve();
  }

  /** @internal Closes the connection for real; the next use opens it again. */
  closeNow(): void {
    this.#wal?.close();
    this.#wal = undefined;
    try {
      this.#db?.close();
    } finally {
      this.#db = undefined;
    }
  }
}
