import { DurableObject } from "../../core/base-classes.ts";
import { errorMessage } from "../../core/error-text.ts";
import type { SqlStorage, SqlStorageValue } from "../../core/storage/sql.ts";
import { splitStatements } from "../../core/storage/sql-statements.ts";
import { dumpDatabase } from "./d1-dump.ts";
import type {
  D1Answer,
  D1Backend,
  D1ExecAnswer,
  D1Meta,
  D1Query,
  D1QueryResult,
  D1Value,
} from "./d1-protocol.ts";

/**
 * The class of the Durable Objects that hold D1 databases, as `storageName` of its namespace
 * record. Not an identifier, so no exported class of an app can take the name.
 */
export const D1_CLASS_NAME = "stead-d1";

const NO_STATEMENTS = "No SQL statements detected.";

/**
 * One D1 database: a Durable Object whose own SQLite database is the D1 database, as Cloudflare
 * builds D1. Each method is one event, so statements of different callers never interleave,
 * and, as for any object, an answer leaves only once the writes behind it are durable.
 */
export class D1DatabaseObject extends DurableObject implements D1Backend {
  async batch(queries: readonly D1Query[], bookmark: boolean): Promise<D1Answer> {
    const runnable = queries.filter((query) => splitStatements(query.sql).length > 0);
    if (runnable.length === 0) return { ok: false, error: NO_STATEMENTS };
    let results: D1QueryResult[];
    try {
      results = this.ctx.storage.transactionSync(() => {
        const counters = new Counters(this.ctx.storage.sql);
        return runnable.map((query) => counters.run(query));
      });
    } catch (error) {
      return { ok: false, error: errorMessage(error) };
    }
    if (!bookmark) return { ok: true, results };
    return { ok: true, results, bookmark: await this.ctx.storage.getCurrentBookmark() };
  }

  async exec(statements: readonly string[]): Promise<D1ExecAnswer> {
    const metas: D1Meta[] = [];
    const counters = new Counters(this.ctx.storage.sql);
    for (const [line, sql] of statements.entries()) {
      if (splitStatements(sql).length === 0) continue;
      try {
        metas.push(this.ctx.storage.transactionSync(() => counters.run({ sql, params: [] })).meta);
      } catch (error) {
        return { ok: false, line, error: errorMessage(error) };
      }
    }
    if (metas.length === 0) return { ok: false, line: 0, error: NO_STATEMENTS };
    return { ok: true, metas };
  }

  async dump(): Promise<ArrayBuffer> {
    return dumpDatabase(this.ctx.storage.sql);
  }
}

/**
 * Runs statements and measures each: the changes and last rowid SQLite counts on the
 * connection, and the database's size, read between statements (each reading serves as the
 * next statement's "before").
 */
class Counters {
  readonly #sql: SqlStorage;
  #totalChanges: number;
  #lastRowId: number;
  #size: number;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    [this.#totalChanges, this.#lastRowId] = this.#read();
    this.#size = sql.databaseSize;
  }

  run(query: D1Query): D1QueryResult {
    const start = performance.now();
    const cursor = this.#sql.exec(query.sql, ...query.params);
    const rows = Array.from(cursor.raw(), (row) => row.map(toD1Value));
    const duration = performance.now() - start;
    const [totalChanges, lastRowId] = this.#read();
    const size = this.#sql.databaseSize;
    const changes = totalChanges - this.#totalChanges;
    const changed = changes !== 0 || lastRowId !== this.#lastRowId || size !== this.#size;
    this.#totalChanges = totalChanges;
    this.#lastRowId = lastRowId;
    this.#size = size;
    return {
      columns: cursor.columnNames,
      rows,
      meta: {
        served_by: "stead",
        served_by_primary: true,
        duration,
        changes,
        last_row_id: lastRowId,
        changed_db: changed,
        size_after: size,
        rows_read: cursor.rowsRead,
        rows_written: cursor.rowsWritten,
        timings: { sql_duration_ms: duration },
      },
    };
  }

  #read(): [number, number] {
    const { changes, rowid } = this.#sql
      .exec<{ changes: number; rowid: number }>(
        "SELECT total_changes() AS changes, last_insert_rowid() AS rowid",
      )
      .one();
    return [changes, rowid];
  }
}

/** BLOBs leave as arrays of bytes, as D1 returns them. */
function toD1Value(value: SqlStorageValue): D1Value {
  return value instanceof ArrayBuffer ? Array.from(new Uint8Array(value)) : value;
}
