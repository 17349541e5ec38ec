import type { DatabaseSync, Session } from "node:sqlite";
import type { ObjectDatabase } from "../storage/object-database.ts";
import type { ChangeFeed, RecordedChanges } from "./change-feed.ts";
import { changesetTables } from "./changeset-decoder.ts";
import { joinBytes, KvChangeLog } from "./kv-change-log.ts";

/** The hidden table of an object's captured commits (see docs/change-feed.md). */
const CREATE_TABLE =
  "CREATE TABLE IF NOT EXISTS _cf_changes (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, changeset BLOB NOT NULL, columns TEXT NOT NULL)";

/**
 * KV's table is the runtime's own, its columns fixed (`object-database.ts`; the app cannot alter
 * `_cf_*`): a commit that changed only KV needs no look at the schema.
 */
const KV_ONLY_COLUMNS: Record<string, string[]> = Object.freeze({
  _cf_KV: Object.freeze(["key", "value"]) as string[],
});
const KV_ONLY_COLUMNS_JSON = JSON.stringify(KV_ONLY_COLUMNS);
const KV_ONLY_TABLES: readonly string[] = Object.freeze(["_cf_KV"]);

/**
 * Applied rows are removed once this many have piled up, not at every commit: one DELETE per
 * batch rather than a statement per commit, for a few more rows (a page or two) kept meanwhile.
 */
const TRIM_BATCH = 32;

/** Whether changes to `table` go into the feed: the app's tables and KV, not the runtime's own. */
export function isFedTable(table: string): boolean {
  return table === "_cf_KV" || !/^(_cf_|sqlite_)/i.test(table);
}

/**
 * Captures one object generation's commits for a change feed: the KV store's puts and deletes
 * are logged as it makes them, and a session extension session is attached before the first
 * other write of a transaction (the app's SQL); just before COMMIT their changeset, if it touched
 * the app's tables or KV, is written to `_cf_changes` with the object's next sequence number in
 * that same transaction, so a recorded change exists exactly when its commit does. Once the
 * commit is durable the feed gets it. Rows every sink applied are removed by later commits.
 */
export class ChangeCapture {
  readonly #db: ObjectDatabase;
  readonly #feed: ChangeFeed;
  readonly #namespace: string;
  readonly #id: string;
  readonly #name: string | undefined;
  readonly #now: () => number;
  #session: Session | undefined;
  /** The transaction's KV changes while no session is attached. */
  readonly #kv = new KvChangeLog();
  /** The first sequence number this generation recorded: earlier ones were recorded before. */
  #firstSeq: number | undefined;
  /** The newest sequence number of this generation whose commit is durable. */
  #durableSeq: number | undefined;
  /** The next sequence number, read from `_cf_changes` at this generation's first capture. */
  #nextSeq: number | undefined;
  /** `_cf_changes` rows up to this seq were removed (or never shipped by this generation). */
  #trimmed = 0;
  /** The connection `_cf_changes` is known to exist on, and its column-name cache. */
  #schema: { db: DatabaseSync; version: number; columns: Map<string, string[]> } | undefined;

  constructor(
    db: ObjectDatabase,
    feed: ChangeFeed,
    object: { namespace: string; id: string; name: string | undefined },
    now: () => number,
  ) {
    this.#db = db;
    this.#feed = feed;
    this.#namespace = object.namespace;
    this.#id = object.id;
    this.#name = object.name;
    this.#now = now;
  }

  /** Call right after BEGIN of a write transaction. */
  begin(): void {
    this.#closeSession();
    this.#kv.clear();
  }

  /**
   * Call before a write that is not the KV store's (the app's SQL, an operator's write): from
   * then on a session records the transaction's changes, KV included. A transaction that only
   * writes KV never attaches one (`KvChangeLog` holds its changes).
   */
  beforeSqlWrite(): void {
    this.#session ??= this.#db.sqlite.createSession();
  }

  /** Call after the KV store put (`value`: the serialized bytes) or deleted a row of `key`. */
  kvWritten(key: string, value: Uint8Array | undefined): void {
    // With a session attached it records KV as well.
    if (this.#session === undefined) this.#kv.record(key, value);
  }

  /** Call when the savepoint at `depth` opens. */
  savepointOpened(depth: number): void {
    this.#kv.savepointOpened(depth);
  }

  /** Call when the savepoint at `depth` is rolled back. */
  savepointRolledBack(depth: number): void {
    this.#kv.savepointRolledBack(depth);
  }

  /**
   * Call right before COMMIT, after every other write of the transaction: records its changes;
   * returns what hands them to the feed once the commit is durable.
   */
  beforeCommit(): (() => void) | undefined {
    const session = this.#session;
    this.#session = undefined;
    let changeset: Uint8Array | undefined;
    try {
      changeset = session?.changeset();
    } finally {
      session?.close();
    }
    // KV written before a session was attached first, then the session's (KV after it, net).
    if (!this.#kv.empty) {
      const kv = this.#kv.encode();
      changeset = changeset === undefined ? kv : joinBytes([kv, changeset]);
    }
    this.#kv.clear();
    if (changeset === undefined || changeset.length === 0) return undefined;
    // Only the table names here: the shipper decodes the values, off the commit path. With no
    // session, the changeset is KV's alone, as `KvChangeLog` wrote it.
    const tables =
      session === undefined ? KV_ONLY_TABLES : changesetTables(changeset).filter(isFedTable);
    if (tables.length === 0) return undefined;
    this.#ensureTable();
    const kvOnly = tables.length === 1 && tables[0] === "_cf_KV";
    const columns = kvOnly ? KV_ONLY_COLUMNS : this.#columnsOf(tables);
    const seq = this.#takeSeq();
    const at = this.#now();
    this.#db
      .statement("INSERT INTO _cf_changes (seq, at, changeset, columns) VALUES (?, ?, ?, ?)")
      .run(seq, at, changeset, kvOnly ? KV_ONLY_COLUMNS_JSON : JSON.stringify(columns));
    this.#trim(seq);
    const recorded: RecordedChanges = { seq, at, changeset, columns };
    return () => {
      this.#durableSeq = seq;
      this.#feed.committed(this.#namespace, this.#id, this.#name, [recorded]);
    };
  }

  /**
   * Hands the feed the changes recorded up to this generation's last durable commit (those
   * recorded before it and not yet durable reach it once durable); returns how many.
   */
  replay(): number {
    const before =
      this.#durableSeq !== undefined
        ? this.#durableSeq + 1
        : (this.#firstSeq ?? Number.POSITIVE_INFINITY);
    return replayRecordedChanges(
      this.#db,
      this.#feed,
      { namespace: this.#namespace, id: this.#id, name: this.#name },
      before,
    );
  }

  /** Drops a session left by a transaction that never committed (rolled back, broken). */
  #closeSession(): void {
    try {
      this.#session?.close();
    } catch {
      // Its connection closed already, closing it.
    }
    this.#session = undefined;
  }

  #takeSeq(): number {
    if (this.#nextSeq === undefined) {
      const row = this.#db.statement("SELECT max(seq) AS seq FROM _cf_changes").get() as {
        seq: bigint | null;
      };
      this.#nextSeq = Number(row.seq ?? 0n) + 1;
      this.#firstSeq = this.#nextSeq;
    }
    return this.#nextSeq++;
  }

  /**
   * Removes rows every sink applied, always keeping the newest (it carries the sequence), once
   * `TRIM_BATCH` of them are removable.
   */
  #trim(newest: number): void {
    // Not enough rows yet whatever the sinks applied: spares asking the feed at every commit.
    if (newest - 1 - this.#trimmed < TRIM_BATCH) return;
    const shipped = Math.min(this.#feed.shipped(this.#namespace, this.#id), newest - 1);
    if (shipped - this.#trimmed < TRIM_BATCH) return;
    this.#db.statement("DELETE FROM _cf_changes WHERE seq <= ?").run(shipped);
    this.#trimmed = shipped;
  }

  /** Makes `_cf_changes` on a connection not seen yet (a new generation, a reopened one). */
  #ensureTable(): void {
    const db = this.#db.sqlite;
    if (this.#schema?.db === db) return;
    this.#db.exec(CREATE_TABLE);
    this.#schema = { db, version: -1, columns: new Map() };
  }

  /** Column names of `tables` on the live connection, cached until the schema changes. */
  #columnsOf(tables: readonly string[]): Record<string, string[]> {
    const { schema_version: version } = this.#db.statement("PRAGMA schema_version").get() as {
      schema_version: bigint;
    };
    const schema = this.#schema!;
    if (schema.version !== Number(version)) {
      schema.version = Number(version);
      schema.columns.clear();
    }
    const columns: Record<string, string[]> = {};
    for (const table of tables) {
      let names = schema.columns.get(table);
      if (names === undefined) {
        const rows = this.#db
          .statement("SELECT name FROM pragma_table_info(?) ORDER BY cid")
          .all(table) as Array<{ name: string }>;
        names = rows.map((row) => row.name);
        schema.columns.set(table, names);
      }
      columns[table] = names;
    }
    return columns;
  }
}

/**
 * Hands `feed` the changes recorded in an object's `_cf_changes` with a sequence number below
 * `before`: call on a database with no transaction of this process pending durability (an object
 * not in memory, or through `ChangeCapture.replay`). Returns how many.
 */
export function replayRecordedChanges(
  db: ObjectDatabase,
  feed: ChangeFeed,
  object: { namespace: string; id: string; name: string | undefined },
  before = Number.POSITIVE_INFINITY,
): number {
  const changes = readRecordedChanges(db).filter((change) => change.seq < before);
  if (changes.length > 0) feed.committed(object.namespace, object.id, object.name, changes);
  return changes.length;
}

/** Every change recorded in an object's `_cf_changes`, oldest first (none: the table is absent). */
function readRecordedChanges(db: ObjectDatabase): RecordedChanges[] {
  const exists = db
    .statement("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_cf_changes'")
    .get();
  if (exists === undefined) return [];
  const rows = db
    .statement("SELECT seq, at, changeset, columns FROM _cf_changes ORDER BY seq")
    .all() as Array<{
    seq: bigint;
    at: bigint;
    changeset: Uint8Array;
    columns: string;
  }>;
  return rows.map((row) => ({
    seq: Number(row.seq),
    at: Number(row.at),
    changeset: row.changeset,
    columns: JSON.parse(row.columns) as Record<string, string[]>,
  }));
}
