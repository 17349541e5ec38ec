import { Buffer } from "node:buffer";
import { inspect as describe } from "node:util";
import type { DurableObjectStorage } from "../storage/durable-object-storage.ts";
import type { ObjectDatabase } from "../storage/object-database.ts";
import { EXEC_READ_ONLY, type SqlStorageValue } from "../storage/sql.ts";
import { deserializeValue } from "../values/value-serializer.ts";
import { importRecord } from "./object-import.ts";
import type { ObjectRecord } from "./object-record.ts";

/**
 * What an operator asks of one object (the admin API, `stead objects`). It runs as an event of
 * the object, so it never interleaves with the object's own work, and its writes are durable
 * before the answer leaves. Plain data, so it crosses threads and cluster nodes.
 */
export type AdminRequest =
  | { op: "inspect" }
  | { op: "kv"; after?: string; limit: number }
  | { op: "sql"; query: string; params: AdminValue[]; write: boolean }
  | { op: "delete" }
  /** Sets the alarm to `time` (an operator retrying a dead-lettered alarm). */
  | { op: "setAlarm"; time: number }
  /**
   * A copy of the object's whole database as of its last commit (`ObjectSnapshot`): the
   * turn's pending writes are committed first, then the database is copied in one step, so the
   * copy is at a commit boundary and never interleaves with the object's own writes.
   */
  | { op: "snapshot" }
  /** Puts an export's record into the object, in one transaction (`importRecord`). */
  | { op: "import"; record: ObjectRecord; replace: boolean }
  /**
   * Hands the changes recorded in the object's `_cf_changes` to its class's change feed again
   * (the feed's catch-up after a restart); answers how many (`FeedReplay`). Like a snapshot, an
   * object not in memory is read without an instance.
   */
  | { op: "feed" };

/** What `feed` answers. */
export interface FeedReplay {
  id: string;
  /** Recorded commits handed to the feed. */
  changes: number;
}

/** A copy of an object's database: the bytes of a SQLite database file. */
export interface ObjectSnapshot {
  id: string;
  database: Uint8Array;
}

/** A value in an admin request or answer: BLOBs as `{ base64 }`, to travel as JSON. */
export type AdminValue = string | number | null | { base64: string };

/** What `inspect` reports about an object. */
export interface ObjectInspection {
  id: string;
  name: string | null;
  /** The database's size in bytes (pages in use). */
  databaseBytes: number;
  kv: {
    keys: number;
    /** Keys and values, serialized, in bytes. */
    bytes: number;
    /** The first keys, in key order, with the size of each value. */
    first: { key: string; bytes: number }[];
  };
  /** The app's SQL tables with their row counts (SQLite-backed objects). */
  tables: { name: string; rows: number }[];
  /** The alarm, ms since the epoch, or null. */
  alarm: number | null;
  /**
   * When its last event started (ms since the epoch), if it had one since it last came into
   * memory; null when it has been idle since (it was evicted, or the server restarted).
   */
  lastActivity: number | null;
  webSockets: {
    /** Accepted with `ctx.acceptWebSocket` (they survive hibernation). */
    hibernatable: number;
    /** Accepted with `ws.accept()`, held by the live instance. */
    standard: number;
  };
}

/** A page of an object's KV entries, in key order; `next` continues it (null at the end). */
export interface KvPage {
  entries: { key: string; bytes: number; preview: string }[];
  next: string | null;
}

/** The rows of an admin query. */
export interface AdminQueryResult {
  columns: string[];
  rows: AdminValue[][];
  rowsRead: number;
  rowsWritten: number;
}

/** What an admin request runs against: the object's storage, database and sockets. */
export interface AdminTarget {
  readonly id: string;
  readonly backend: "sqlite" | "kv";
  readonly storage: DurableObjectStorage;
  readonly db: ObjectDatabase;
  readonly hibernatableSockets: number;
  readonly standardSockets: number;
  /** When the object's last event (not an operator's) started, if since it came into memory. */
  readonly lastActivity: number | undefined;
  /** Commits the turn's implicit transaction now (writes of events before this one). */
  commit(): void;
  /** Runs `fn` in a savepoint of the turn's transaction: kept on return, undone on throw. */
  write<T>(fn: () => T): T;
  /**
   * Discards the live instance once this event is answered (its writes durable), so the next
   * event constructs one over the storage as it is now; events in flight then fail with
   * OBJECT_RESET, as on `ctx.abort()`.
   */
  restart(): void;
  /** Hands the recorded changes to the class's change feed (`feed`). */
  replayFeed(): FeedReplay;
}

/** Keys listed by `inspect`. */
const FIRST_KEYS = 100;

/** Runs `request` inside the object (called by the host as the event's handler). */
export async function runAdmin(request: AdminRequest, target: AdminTarget): Promise<unknown> {
  switch (request.op) {
    case "inspect":
      return inspect(target);
    case "kv":
      return kvPage(target, request.after, request.limit);
    case "sql":
      return query(target, request);
    case "setAlarm":
      await target.storage.setAlarm(request.time);
      return { alarm: request.time };
    case "delete":
      await target.storage.deleteAlarm();
      await target.storage.deleteAll();
      return { deleted: true };
    case "snapshot":
      return snapshot(target);
    case "import": {
      const summary = importRecord(target, request.record, request.replace);
      target.restart();
      return summary;
    }
    case "feed":
      return target.replayFeed();
  }
}

function snapshot(target: AdminTarget): ObjectSnapshot {
  target.commit();
  return copyDatabase(target.id, target.db);
}

/**
 * The whole database as this connection sees it, which must have no transaction open (so it is
 * the state after the last commit): sqlite3_serialize copies every page, the WAL's included, in
 * one synchronous call, so nothing can write between the caller's commit and the copy.
 */
export function copyDatabase(id: string, db: ObjectDatabase): ObjectSnapshot {
  const sqlite = db.sqlite;
  if (sqlite.isTransaction) {
    throw new Error("internal: a transaction is open, so the object cannot be copied now");
  }
  return { id, database: sqlite.serialize() };
}

async function inspect(target: AdminTarget): Promise<ObjectInspection> {
  const { db } = target;
  const kv = db
    .statement(
      "SELECT count(*) AS keys, coalesce(sum(length(CAST(key AS BLOB)) + length(value)), 0) AS bytes FROM _cf_KV",
    )
    .get() as { keys: number; bytes: number };
  const first = db
    .statement("SELECT key, length(value) AS bytes FROM _cf_KV ORDER BY key LIMIT ?")
    .all(FIRST_KEYS) as { key: string; bytes: number }[];
  const tables = (
    db
      .statement(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map(({ name }) => ({
    name,
    rows: Number(
      (
        db.statement(`SELECT count(*) AS n FROM "${name.replaceAll('"', '""')}"`).get() as {
          n: number;
        }
      ).n,
    ),
  }));
  const pages = db
    .statement(
      "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS pages, (SELECT page_size FROM pragma_page_size()) AS size",
    )
    .get() as { pages: number; size: number };
  const name = db.statement("SELECT value FROM _cf_METADATA WHERE key = 'name'").get() as
    | { value: string }
    | undefined;
  return {
    id: target.id,
    name: name?.value ?? null,
    databaseBytes: Number(pages.pages) * Number(pages.size),
    kv: {
      keys: Number(kv.keys),
      bytes: Number(kv.bytes),
      first: first.map(({ key, bytes }) => ({ key, bytes: Number(bytes) })),
    },
    tables,
    alarm: await target.storage.getAlarm(),
    lastActivity: target.lastActivity ?? null,
    webSockets: {
      hibernatable: target.hibernatableSockets,
      standard: target.standardSockets,
    },
  };
}

/** Longest preview of a value, in characters. */
const PREVIEW_CHARS = 200;

function kvPage(target: AdminTarget, after: string | undefined, limit: number): KvPage {
  const rows = target.db
    .statement("SELECT key, value FROM _cf_KV WHERE key > ? ORDER BY key LIMIT ?")
    .all(after ?? "", limit + 1) as { key: string; value: Uint8Array }[];
  const page = rows.slice(0, limit);
  return {
    entries: page.map(({ key, value }) => ({ key, bytes: value.length, preview: preview(value) })),
    next: rows.length > limit ? page.at(-1)!.key : null,
  };
}

/** A value as an operator reads it: `util.inspect` of the stored structured clone, shortened. */
function preview(bytes: Uint8Array): string {
  let text: string;
  try {
    text = describe(deserializeValue(bytes), { depth: 3, breakLength: Number.POSITIVE_INFINITY });
  } catch (error) {
    text = `<unreadable: ${(error as Error).message}>`;
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
}

function query(
  target: AdminTarget,
  request: Extract<AdminRequest, { op: "sql" }>,
): AdminQueryResult {
  if (target.backend !== "sqlite") {
    throw new Error(
      "This object's class is KV-backed (a new_classes migration): it has no SQL API. Inspect its keys instead.",
    );
  }
  const sql = target.storage.sql;
  const params = request.params.map(fromAdminValue);
  const cursor = request.write
    ? sql.exec(request.query, ...params)
    : sql[EXEC_READ_ONLY](request.query, params);
  const rows = Array.from(cursor.raw(), (row) => row.map(toAdminValue));
  return {
    columns: cursor.columnNames,
    rows,
    rowsRead: cursor.rowsRead,
    rowsWritten: cursor.rowsWritten,
  };
}

/** A value as the admin API carries it. */
export function toAdminValue(value: SqlStorageValue): AdminValue {
  return value instanceof ArrayBuffer ? { base64: Buffer.from(value).toString("base64") } : value;
}

function fromAdminValue(value: AdminValue): unknown {
  if (value !== null && typeof value === "object") {
    return new Uint8Array(Buffer.from(value.base64, "base64"));
  }
  return value;
}
