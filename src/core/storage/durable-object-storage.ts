import { attempt } from "./attempt.ts";
import type { AlarmIndex } from "./driver.ts";
import { DurableObjectTransaction, FINISH, ROLLED_BACK } from "./durable-object-transaction.ts";
import { type KvListOptions, KvStore } from "./kv.ts";
import type { StorageBackend } from "./kv-limits.ts";
import type { ObjectDatabase } from "./object-database.ts";
import { PointInTime } from "./point-in-time.ts";
import { SqlStorage } from "./sql.ts";
import { SyncKvStorage } from "./sync-kv-storage.ts";
import type { Transactions } from "./transactions.ts";

export interface DurableObjectGetOptions {
  allowConcurrency?: boolean;
  noCache?: boolean;
}
export interface DurableObjectPutOptions {
  allowConcurrency?: boolean;
  allowUnconfirmed?: boolean;
  noCache?: boolean;
}
export interface DurableObjectListOptions extends KvListOptions, DurableObjectGetOptions {}
export interface DurableObjectSetAlarmOptions {
  allowConcurrency?: boolean;
  allowUnconfirmed?: boolean;
}

/** What the storage API needs from the object that owns it. */
export interface StorageOwner {
  readonly namespace: string;
  readonly id: string;
  readonly name: string | undefined;
  readonly backend: StorageBackend;
  /** The class defines `alarm()`. */
  readonly hasAlarmHandler: boolean;
  /** `deleteAll()` also deletes the alarm (compatibility date 2026-02-24 or later). */
  readonly deleteAllDeletesAlarm: boolean;
  /** The node-level alarm index. */
  readonly alarmIndex: AlarmIndex;
  /** Called after the alarm index changed, so the scheduler can re-arm. */
  alarmIndexChanged(): void;
  /** Runs `fn` with other events held back (for `transaction()`). */
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
}

const ALARM_KEY = "alarm";

/**
 * What the runtime, not the app, does with an object's storage: the alarm's bookkeeping around a
 * handler run and the commit hook that keeps the node's alarm index in step. Kept off
 * `ctx.storage` itself, so apps see only Cloudflare's API.
 */
export interface StorageInternals {
  /** The stored alarm time, ignoring a running handler. */
  readAlarm(): number | null;
  /** Marks the start (`scheduledTime`) and end (`undefined`) of an alarm handler run. */
  alarmRunning(scheduledTime: number | undefined): void;
  /** Whether the last (or current) alarm handler run called `setAlarm`, whatever the time. */
  alarmSetDuringRun(): boolean;
  /** After a successful handler: clears the alarm unless the handler set a new one. */
  completeAlarm(scheduledTime: number): void;
  /**
   * Call right before COMMIT: keeps the alarm index in step with the commit; returns what to do
   * once it is durable, if anything.
   */
  beforeCommit(): (() => void) | undefined;
  /**
   * Writes the stored alarm (a time, or null to remove it) in the turn's transaction, whatever
   * the class defines: an operator's import puts back the alarm an export recorded. The alarm
   * index follows with the commit, as for `setAlarm`.
   */
  writeAlarm(time: number | null): void;
}

const INTERNALS = new WeakMap<DurableObjectStorage, StorageInternals>();

/** The runtime's side of `storage` (see `StorageInternals`). */
export function storageInternals(storage: DurableObjectStorage): StorageInternals {
  const internals = INTERNALS.get(storage);
  if (internals === undefined) throw new TypeError("Not a DurableObjectStorage made by Stead.");
  return internals;
}

/**
 * `ctx.storage`: the async KV API, the sync KV API (`kv`), SQL (`sql`), transactions and the
 * alarm, all over one SQLite database and one transaction per turn.
 */
export class DurableObjectStorage {
  readonly #db: ObjectDatabase;
  readonly #tx: Transactions;
  readonly #owner: StorageOwner;
  readonly #kv: KvStore;
  readonly #sql: SqlStorage | undefined;
  readonly #syncKv: SyncKvStorage;
  readonly #pointInTime: PointInTime;
  #alarmDirty = false;
  /** The scheduled time of the alarm whose handler is running, if one is. */
  #runningAlarm: number | undefined;
  #alarmSetWhileRunning = false;

  /** @internal */
  constructor(db: ObjectDatabase, tx: Transactions, owner: StorageOwner) {
    this.#db = db;
    this.#tx = tx;
    this.#owner = owner;
    this.#kv = new KvStore(db, tx, owner.backend);
    this.#sql = owner.backend === "sqlite" ? new SqlStorage(db, tx) : undefined;
    this.#syncKv = new SyncKvStorage(this.#kv);
    this.#pointInTime = new PointInTime(db, tx, owner.backend, `${owner.namespace}/${owner.id}`);
    INTERNALS.set(this, {
      readAlarm: () => this.#readAlarm(),
      alarmRunning: (scheduledTime) => this.#alarmRunning(scheduledTime),
      alarmSetDuringRun: () => this.#alarmSetWhileRunning,
      completeAlarm: (scheduledTime) => this.#completeAlarm(scheduledTime),
      beforeCommit: () => this.#beforeCommit(),
      writeAlarm: (time) => {
        this.#tx.beforeWrite();
        this.#writeAlarm(time);
      },
    });
  }

  /** Reads one key (a fresh copy of the value), or several keys into a Map in key order. */
  get<T = unknown>(key: string, options?: DurableObjectGetOptions): Promise<T | undefined>;
  get<T = unknown>(keys: string[], options?: DurableObjectGetOptions): Promise<Map<string, T>>;
  get(keyOrKeys: string | string[], options?: DurableObjectGetOptions): Promise<unknown> {
    return attempt(() => {
      checkOptions(options, "get", 2, "DurableObjectGetOptions");
      return Array.isArray(keyOrKeys) ? this.#kv.getMany(keyOrKeys) : this.#kv.get(keyOrKeys);
    });
  }

  /** Entries in UTF-8 key order, bounded by start/startAfter/end/prefix, reverse, limit. */
  list<T = unknown>(options: DurableObjectListOptions = {}): Promise<Map<string, T>> {
    return attempt(() => this.#kv.list(options) as Map<string, T>);
  }

  /** Stores one value, or up to 128 entries atomically. Durable before any later output. */
  put<T>(key: string, value: T, options?: DurableObjectPutOptions): Promise<void>;
  put<T>(entries: Record<string, T>, options?: DurableObjectPutOptions): Promise<void>;
  put(keyOrEntries: unknown, valueOrOptions?: unknown, maybeOptions?: unknown): Promise<void> {
    return attempt(() => {
      if (typeof keyOrEntries === "string") {
        checkOptions(maybeOptions, "put", 3, "DurableObjectPutOptions");
        const options = maybeOptions as DurableObjectPutOptions | undefined;
        this.#kv.put(keyOrEntries, valueOrOptions, options?.allowUnconfirmed === true);
      } else if (
        keyOrEntries !== null &&
        typeof keyOrEntries === "object" &&
        !Array.isArray(keyOrEntries) &&
        (valueOrOptions === undefined || typeof valueOrOptions === "object")
      ) {
        const options = valueOrOptions as DurableObjectPutOptions | undefined;
        this.#kv.putMany(
          keyOrEntries as Record<string, unknown>,
          options?.allowUnconfirmed === true,
        );
      } else {
        throw new TypeError(
          "put() may only be called with a single key-value pair and optional options as put(key, value, options) or with multiple key-value pairs and optional options as put(entries, options)",
        );
      }
    });
  }

  /** Deletes one key (true if it existed) or up to 128 keys (how many existed). */
  delete(key: string, options?: DurableObjectPutOptions): Promise<boolean>;
  delete(keys: string[], options?: DurableObjectPutOptions): Promise<number>;
  delete(keyOrKeys: string | string[], options?: DurableObjectPutOptions): Promise<unknown> {
    return attempt(() => {
      checkOptions(options, "delete", 2, "DurableObjectPutOptions");
      const unconfirmed = options?.allowUnconfirmed === true;
      return Array.isArray(keyOrKeys)
        ? this.#kv.deleteMany(keyOrKeys, unconfirmed)
        : this.#kv.delete(keyOrKeys, unconfirmed);
    });
  }

  /** Deletes all data atomically: KV, SQL tables and (by compatibility date) the alarm. */
  deleteAll(options?: DurableObjectPutOptions): Promise<void> {
    return attempt(() => {
      checkOptions(options, "deleteAll", 1, "DurableObjectPutOptions");
      if (this.#tx.inExplicitTransaction) {
        throw new Error("Cannot call deleteAll() within a transaction");
      }
      this.#tx.beforeWrite();
      this.#tx.savepoint(() => {
        this.#kv.clear();
        if (this.#owner.backend === "sqlite") this.#dropUserSchema();
        if (this.#owner.deleteAllDeletesAlarm) this.#writeAlarm(null);
      });
    });
  }

  /**
   * Runs `closure` atomically with other events held back; a throw or `txn.rollback()` undoes
   * its writes without resetting the object.
   */
  transaction<T>(closure: (txn: DurableObjectTransaction) => Promise<T>): Promise<T> {
    // The closure's error leaves blockConcurrencyWhile as a value: thrown there, it would reset
    // the object, and a failed transaction only rolls back.
    return this.#owner
      .blockConcurrencyWhile(async () => {
        this.#tx.commitImplicit();
        const savepoint = this.#tx.begin();
        const txn = new DurableObjectTransaction(this);
        let commit = false;
        try {
          const value = await closure(txn);
          commit = !txn[ROLLED_BACK];
          return { ok: true as const, value };
        } catch (error) {
          return { ok: false as const, error };
        } finally {
          txn[ROLLED_BACK] ||= !commit;
          txn[FINISH]();
          // After a critical error there is nothing left to keep (the `.then` below reports it).
          this.#tx.end(savepoint, commit && this.#tx.criticalError === undefined);
        }
      })
      .then((result) => {
        // A critical SQL error rolled back the whole transaction, whatever the closure made of it.
        const critical = this.#tx.criticalError;
        if (critical) throw critical;
        if (!result.ok) throw result.error;
        return result.value;
      });
  }

  /** Runs a synchronous closure in a (nestable) savepoint: kept on return, undone on throw. */
  transactionSync<T>(closure: () => T): T {
    if (this.#owner.backend !== "sqlite") throw new Error("Durable Object is not backed by SQL.");
    return this.#tx.savepoint(() => {
      const result = closure();
      if (result instanceof Promise) {
        throw new TypeError(
          "transactionSync() closure must be synchronous; it returned a Promise.",
        );
      }
      return result;
    });
  }

  /** A bookmark of the state after every write made so far (point-in-time recovery). */
  getCurrentBookmark(): Promise<string> {
    return this.#pointInTime.getCurrentBookmark();
  }

  /** A bookmark of the state at `timestamp`, within the history kept (30 days by default). */
  getBookmarkForTime(timestamp: number | Date): Promise<string> {
    return this.#pointInTime.getBookmarkForTime(timestamp);
  }

  /** Restores `bookmark` when the object next starts; resolves to a bookmark undoing that. */
  onNextSessionRestoreBookmark(bookmark: string): Promise<string> {
    return this.#pointInTime.onNextSessionRestoreBookmark(bookmark);
  }

  /**
   * Resolves once this database has reached `bookmark`. On Cloudflare only a read replica ever
   * waits; Stead serves every object from its primary, so this resolves at once.
   */
  async waitForBookmark(bookmark: string): Promise<void> {
    if (typeof bookmark !== "string") {
      throw new TypeError("waitForBookmark() requires a bookmark string.");
    }
  }

  /** Resolves once every write made so far, including unconfirmed ones, is durable. */
  sync(): Promise<void> {
    return attempt(() => this.#tx.sync()).then((p) => p);
  }

  /** The alarm's scheduled time in epoch ms, or null. */
  getAlarm(_options?: { allowConcurrency?: boolean }): Promise<number | null> {
    return attempt(() => {
      this.#tx.check();
      if (!this.#owner.hasAlarmHandler) return null;
      const stored = this.#readAlarm();
      if (
        this.#runningAlarm !== undefined &&
        !this.#alarmSetWhileRunning &&
        stored === this.#runningAlarm
      ) {
        return null;
      }
      return stored;
    });
  }

  /** Sets (replacing) the object's one alarm. Times in the past fire at once. */
  setAlarm(scheduledTime: number | Date, options?: DurableObjectSetAlarmOptions): Promise<void> {
    return attempt(() => {
      checkOptions(options, "setAlarm", 2, "DurableObjectSetAlarmOptions");
      const time = scheduledTime instanceof Date ? scheduledTime.getTime() : scheduledTime;
      if (typeof time !== "number" || !Number.isFinite(time)) {
        throw new TypeError(
          `setAlarm() requires a Date or a number of milliseconds since the epoch, got ${String(scheduledTime)}.`,
        );
      }
      if (time <= 0) throw new TypeError("setAlarm() cannot be called with an alarm time <= 0");
      if (!this.#owner.hasAlarmHandler) {
        throw new TypeError(
          "Your Durable Object class must have an alarm() handler in order to call setAlarm()",
        );
      }
      this.#tx.beforeWrite(options?.allowUnconfirmed === true);
      this.#writeAlarm(Math.floor(time));
      if (this.#runningAlarm !== undefined) this.#alarmSetWhileRunning = true;
    });
  }

  /** Deletes the alarm; a running handler is not cancelled. */
  deleteAlarm(options?: DurableObjectSetAlarmOptions): Promise<void> {
    return attempt(() => {
      this.#tx.beforeWrite(options?.allowUnconfirmed === true);
      this.#writeAlarm(null);
    });
  }

  /** SQL over this object's database (SQLite-backed classes only). */
  get sql(): SqlStorage {
    return this.#requireSql();
  }

  /** The synchronous KV API (SQLite-backed classes only). */
  get kv(): SyncKvStorage {
    this.#requireSql();
    return this.#syncKv;
  }

  #readAlarm(): number | null {
    if (!this.#db.isOpen && !this.#alarmDirty) {
      // Opening the database just to learn there is no alarm would create it.
      const indexed = this.#owner.alarmIndex.get(this.#owner.namespace, this.#owner.id);
      if (indexed === undefined) return null;
    }
    const row = this.#db.statement("SELECT value FROM _cf_METADATA WHERE key = ?").get(ALARM_KEY);
    return row === undefined ? null : Number(row.value);
  }

  #alarmRunning(scheduledTime: number | undefined): void {
    this.#runningAlarm = scheduledTime;
    // Reset at the start of a run only: the runner reads it once the handler has returned.
    if (scheduledTime !== undefined) this.#alarmSetWhileRunning = false;
  }

  #completeAlarm(scheduledTime: number): void {
    if (this.#readAlarm() === scheduledTime) {
      this.#tx.beforeWrite();
      this.#writeAlarm(null);
    }
  }

  /**
   * An earlier (or new) alarm is indexed before COMMIT, a later or removed one only once the
   * commit is durable, so the index is never later than the stored alarm: a crash can cause an
   * early wake-up (which finds nothing due and re-arms) but never a missed alarm.
   */
  #beforeCommit(): (() => void) | undefined {
    if (!this.#alarmDirty) return undefined;
    this.#alarmDirty = false;
    const { namespace, id, name, alarmIndex } = this.#owner;
    const stored = this.#readAlarm();
    const indexed = alarmIndex.get(namespace, id);
    if (stored !== null && (indexed === undefined || stored < indexed.time)) {
      alarmIndex.set({ namespace, id, name, time: stored, scheduledTime: stored, retryCount: 0 });
      this.#owner.alarmIndexChanged();
      return undefined;
    }
    if (stored === indexed?.scheduledTime) return undefined;
    return () => {
      if (stored === null) alarmIndex.delete(namespace, id);
      else
        alarmIndex.set({ namespace, id, name, time: stored, scheduledTime: stored, retryCount: 0 });
      this.#owner.alarmIndexChanged();
    };
  }

  #writeAlarm(time: number | null): void {
    this.#alarmDirty = true;
    if (time === null) {
      this.#db.statement("DELETE FROM _cf_METADATA WHERE key = ?").run(ALARM_KEY);
    } else {
      this.#db
        .statement(
          "INSERT INTO _cf_METADATA (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .run(ALARM_KEY, time);
    }
  }

  #dropUserSchema(): void {
    const rows = this.#db
      .statement(
        "SELECT type, name FROM sqlite_master WHERE name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND type IN ('table', 'view', 'trigger') AND sql IS NOT NULL",
      )
      .all() as Array<{ type: string; name: string }>;
    const order = ["trigger", "view", "table"];
    rows.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
    const dropped = new Set<string>();
    for (const { type, name } of rows) {
      if (dropped.has(name)) continue;
      const exists = this.#db.statement("SELECT 1 FROM sqlite_master WHERE name = ?").get(name);
      if (!exists) continue;
      this.#db.exec(`DROP ${type.toUpperCase()} IF EXISTS "${name.replaceAll('"', '""')}"`);
      dropped.add(name);
    }
  }

  #requireSql(): SqlStorage {
    if (this.#sql === undefined) {
      throw new Error(
        "This Durable Object is not backed by SQLite storage, so the SQL API is not available. SQL can be enabled on a new Durable Object class by using the `new_sqlite_classes` instead of `new_classes` under `migrations` in your Wrangler configuration.",
      );
    }
    return this.#sql;
  }
}

/** Rejects options that are not an object, in the words of workerd's argument checks. */
function checkOptions(options: unknown, method: string, position: number, type: string): void {
  if (options === undefined || options === null || typeof options === "object") return;
  throw new TypeError(
    `Failed to execute '${method}' on 'DurableObjectStorage': parameter ${position} is not of type '${type}'.`,
  );
}
