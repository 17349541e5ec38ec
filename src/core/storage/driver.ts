import type { DatabaseSync } from "node:sqlite";
import type { ClusterStore } from "./cluster-store.ts";

/**
 * The storage seam. `core` reaches disk only through these interfaces; `drivers/<name>/`
 * implement them and the conformance suite in `testing/storage-driver.case.ts` checks them.
 */
export interface StorageDriver {
  /**
   * Opens, creating if absent, the database of one object. The handle is valid until `close`.
   * A driver that keeps names (`objectNames`) records `options.name` when it opens the database.
   */
  openObject(namespace: string, id: string, options?: OpenObjectOptions): DatabaseHandle;
  /**
   * Makes the object's database ready to open, when the driver needs a step that cannot be
   * synchronous (fetching it from elsewhere, claiming it): call before the first event of each
   * new instance of the object, and do not call `openObject` for it until it resolves. Rejects
   * when the object cannot be served (its stored state is damaged, the store is unreachable).
   * `name` as in `OpenObjectOptions`. Absent: `openObject` needs no preparing.
   */
  prepareObject?(namespace: string, id: string, name?: string): Promise<void>;
  /** Ids (64 hex) of the objects of `namespace` that have a database, in no particular order. */
  listObjects(namespace: string): Promise<string[]>;
  /** Whether one object has a database (as `listObjects` would list it), without listing them all. */
  hasObject(namespace: string, id: string): Promise<boolean>;
  /**
   * A copy of one object's whole database (the bytes of a SQLite file) as of its last durable
   * commit, read from the store without the object: no event, no claim, nothing waits for it.
   * Undefined when the object has no database. A capability: absent when only the object's own
   * connection can copy it consistently (the local driver; the admin API then copies it in an
   * event of the object, `AdminRequest` "snapshot").
   */
  snapshotObject?(namespace: string, id: string): Promise<Uint8Array | undefined>;
  /**
   * Stores `database` (a whole SQLite database file, as a snapshot gives it) as the database of
   * an object that has none, and `options.alarm`, if given, in the alarm index; both durable
   * when it resolves. A driver that keeps names (`objectNames`) records `options.name`. Throws,
   * storing nothing, when the object already has a database. For restoring a backup into
   * storage that no runtime serves. A capability: absent when the driver cannot.
   */
  restoreObject?(
    namespace: string,
    id: string,
    database: Uint8Array,
    options: { alarm?: AlarmRecord | undefined; name?: string | undefined },
  ): Promise<void>;
  /**
   * The names (`idFromName`) of those of `ids` whose name the driver has recorded, by id (a
   * capability: absent when the driver keeps no names). Advisory: a name is recorded off the
   * commit path, soon after `openObject` or `prepareObject` is given it; one lost in a crash is
   * recorded again the next time the object's database is opened or prepared with its name.
   * `deleteNamespace` removes the namespace's names.
   */
  objectNames?(namespace: string, ids: readonly string[]): Promise<Map<string, string>>;
  /**
   * Deletes every object database of `namespace` and removes its alarms from the index (a
   * `deleted_classes` migration). Idempotent. The databases are gone for good when it returns;
   * the index change is durable with the next `control.commit` or object flush.
   */
  deleteNamespace(namespace: string): void;
  /** The node-level alarm index, so the scheduler can wake objects that are not in memory. */
  readonly alarms: AlarmIndex;
  /** The node-level record of namespaces and applied migrations. */
  readonly control: ControlStore;
  /**
   * Counters of the driver's durability log, for metrics (a capability: absent when the driver
   * keeps none, e.g. the local driver with `durability: "wal"`).
   */
  journalStats?(): JournalStats | undefined;
  /** The cluster's record of its nodes, when several nodes share this storage (a capability). */
  readonly cluster?: ClusterStore | undefined;
  /** Flushes and closes everything. Handles must not be used afterwards. */
  close(): Promise<void>;
}

/** What `StorageDriver.journalStats` reports. Counters count since the driver opened. */
export interface JournalStats {
  /** fdatasyncs of the journal, each acknowledging every commit appended before it. */
  syncs: number;
  /** Records appended (one per object per sync, covering its commits since the last). */
  records: number;
  /** Bytes of records written. */
  bytes: number;
  /** Bytes the journal holds now (what a replay after a crash now would read, at most). */
  size: number;
  /** Segments retired after their objects' own files were synced. */
  retiredSegments: number;
  /** The replay at this start, when this driver replayed a journal a crash left: its duration, ms. */
  replayMs: number | undefined;
}

/** What `openObject` is told besides the object's namespace and id. */
export interface OpenObjectOptions {
  /**
   * Runs whenever the driver closes the handle's connection (its cache of open files, `reopen`,
   * `close`): drop everything tied to that connection, such as prepared statements.
   */
  onClose?: () => void;
  /**
   * The name the object's id was made from (`idFromName`), when it was: a record for operators'
   * tools (`objectNames`); the driver never needs it to serve the object.
   */
  name?: string | undefined;
}

/** One object's SQLite database. */
export interface DatabaseHandle {
  /**
   * The open connection, opened on first read. The runtime issues every BEGIN/COMMIT itself; the
   * driver may close the connection whenever it is not held (a bounded cache of open files) and
   * reopen it on the next read, so callers read this property for each use instead of keeping
   * the connection. It accepts double-quoted string literals (`SELECT "foo"`) in DDL and DML,
   * SQLite's legacy default that workerd keeps and apps rely on.
   */
  readonly sqlite: DatabaseSync;
  /**
   * Keeps the current connection open until the returned function is called: call it while a
   * transaction is open or a statement is mid-iteration. Releasing twice is harmless; holds end
   * by themselves when the connection closes anyway (`reopen`, `close`).
   */
  hold(): () => void;
  /**
   * Resolves once every transaction committed before the call is durable. Calls resolve in call
   * order. A rejection means durability is unknown: the caller must reset the object.
   */
  flush(): Promise<void>;
  /** Closes the connection; the next `sqlite` read after `reopen` opens it again. */
  close(): void;
  /** Closes and reopens the connection, letting SQLite roll back anything not committed. */
  reopen(): void;
  /**
   * Point-in-time recovery, when the driver keeps the database's history (a capability: absent
   * when it does not, and the storage API then rejects the PITR calls).
   */
  readonly history?: DatabaseHistory;
}

/**
 * Every committed state of one database, kept for `retentionMs`. States are named by
 * positions that grow with each commit (`core/storage/bookmarks.ts`); a restore starts a new
 * generation. Reads are asynchronous (a driver may have to ask its store); they may open the
 * connection and reject with the driver's file or store errors.
 */
export interface DatabaseHistory {
  /** How long a state stays restorable after a later commit replaced it, ms. */
  readonly retentionMs: number;
  /** The position of the newest committed state. Call after the commits it must include are durable. */
  currentPosition(): Promise<number>;
  /** The position of the state current at `time` (epoch ms), or "too-old" before retention. */
  positionAt(time: number): Promise<number | "too-old">;
  /**
   * Whether `position` names a state that can be restored: "kept"; "too-old" (replaced by a
   * later commit longer than `retentionMs` ago, or trimmed); "unknown" (never existed).
   */
  check(position: number): Promise<"kept" | "too-old" | "unknown">;
  /**
   * Durably records that the next start of the object restores `position`, which must be
   * "kept", replacing any earlier request. Resolves to the position of the state just before
   * that restore, so a later restore can undo it.
   */
  restoreOnNextStart(position: number): Promise<number>;
  /**
   * Call when the object starts, before its constructor. Applies a recorded restore, if any:
   * atomically (a crash leaves the old or the restored database, never a mix) and as a new
   * state in the history. Synchronous; the connection is closed and reopened. Absent when the
   * driver applies recorded restores in `prepareObject` instead (which runs before every new
   * instance, so the constructor sees the restored database either way).
   */
  applyPendingRestore?(): void;
}

/** An object's pending alarm, as the node-level index records it. */
export interface AlarmRecord {
  namespace: string;
  id: string;
  /** The object's name when it was addressed by name, so `ctx.id.name` survives a cold wake. */
  name: string | undefined;
  /** When the alarm (or its next retry) is due, epoch ms. */
  time: number;
  /** The time the app asked for; differs from `time` while retrying. */
  scheduledTime: number;
  /** Failed attempts so far. */
  retryCount: number;
}

/** An alarm that failed every retry. */
export interface DeadLetterRecord {
  namespace: string;
  id: string;
  name: string | undefined;
  scheduledTime: number;
  retryCount: number;
  /** The last error's message and stack. */
  error: string;
  /** When it was given up, epoch ms. */
  failedAt: number;
}

/**
 * The node-level alarm index. Writes are synchronous and made durable by the next `flush` of any
 * object handle of the same driver (so an index write made before an object's commit is durable
 * no later than that commit).
 */
export interface AlarmIndex {
  /** Records (replacing) the alarm of one object. */
  set(record: AlarmRecord): void;
  /** Removes the alarm of one object, if any. */
  delete(namespace: string, id: string): void;
  /** The recorded alarm of one object, or undefined. */
  get(namespace: string, id: string): AlarmRecord | undefined;
  /** The `limit` records with the earliest `time`, earliest first. Never loads the whole index. */
  earliest(limit: number): AlarmRecord[];
  /** Moves an alarm to the dead-letter list, removing it from the index. */
  deadLetter(record: DeadLetterRecord): void;
  /** The dead-letter list, newest first. */
  deadLetters(): DeadLetterRecord[];
  /**
   * Removes one object's dead letters (an operator retried or discarded them); returns how
   * many. Durable as the index's other writes are.
   */
  discardDeadLetters(namespace: string, id: string): number;
  /**
   * How many alarms are due at `now` (epoch ms), running ones included; how many are being
   * retried (failed at least once); how many were dead-lettered. For metrics, so it may read a
   * slightly older state of a shared index. Absent: the driver does not count them.
   */
  counts?(now: number): Promise<AlarmCounts>;
  /**
   * Present when other processes or threads write the same index (PostgreSQL): `earliest` then
   * reads only a cache of the index's head, and the scheduler takes due alarms with `claimDue`.
   */
  readonly shared?: SharedAlarmIndex;
}

/** What `AlarmIndex.counts` answers. */
export interface AlarmCounts {
  due: number;
  retrying: number;
  deadLetters: number;
}

/** The part of an alarm index that several schedulers share (a capability of `AlarmIndex`). */
export interface SharedAlarmIndex {
  /**
   * Takes up to `limit` alarms due at `now` (epoch ms) that no scheduler holds, holding them for
   * `leaseMs`: no other scheduler takes them until the lease ends or a write replaces or removes
   * them. Writes made here before the call are in the index first.
   */
  claimDue(now: number, limit: number, leaseMs: number): Promise<AlarmRecord[]>;
  /** Re-reads the index's earliest alarms not held by a scheduler at `now` into what `earliest` returns. */
  refresh(now: number): Promise<void>;
  /** Extends every lease this index's claims hold to `now + leaseMs` (their alarms still run). */
  renewClaims(now: number, leaseMs: number): Promise<void>;
  /**
   * Every dead letter of the shared index, newest first, those other processes wrote included
   * (`AlarmIndex.deadLetters` knows this process's); writes made here before the call first.
   */
  allDeadLetters(): Promise<DeadLetterRecord[]>;
  /** Resolves once every write made here before the call is in the shared index. */
  flush(): Promise<void>;
}

/**
 * A Durable Object class's namespace as first created: its ids and its data stay with it for
 * good, including across renames. A new class `C` gets storage name `C` and a random unique key;
 * data directories made before keys were random keep their recorded `stead:C`.
 */
export interface NamespaceRecord {
  /** The exported class that owns the namespace now (renames change it). */
  className: string;
  /** The driver's namespace: the `namespace` argument of `openObject`, alarms and listing. */
  storageName: string;
  /**
   * The id key, a secret: ids are MACed with it, so ids minted under another key are rejected
   * by this namespace, and nobody without the key can make a valid id.
   */
  uniqueKey: string;
  /** SQLite-backed, or legacy KV-backed (no SQL API). */
  backend: "sqlite" | "kv";
}

/** One atomic change to the control store. */
export interface ControlChange {
  /** Class names whose records are removed (applied before `put`). */
  remove?: string[];
  /** Records to add or replace, matched by class name. */
  put?: NamespaceRecord[];
  /** A migration tag to record as applied, after the ones recorded before. */
  migrationTag?: string;
}

/** Namespaces and applied migration tags, kept by the driver next to the alarm index. */
export interface ControlStore {
  /** Every namespace record, ordered by class name. */
  namespaces(): NamespaceRecord[];
  /** Tags of the applied migrations, in the order they were applied. */
  appliedMigrations(): string[];
  /**
   * Applies `change` in one transaction and resolves once it is durable. Throws, changing
   * nothing, when the tag was already recorded or two records would share a storage name or
   * unique key.
   */
  commit(change: ControlChange): Promise<void>;
}
