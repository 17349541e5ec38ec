import type { SQLInputValue, StatementSync } from "node:sqlite";
import type { ObjectDatabase } from "./object-database.ts";
import type { SqlAuthorizer } from "./sql-authorizer.ts";
import { sqlError } from "./sql-errors.ts";
import {
  checkBoundValueLength,
  checkStatementLength,
  MAX_BINDINGS,
  WRONG_BINDING_COUNT_MESSAGE,
} from "./sql-limits.ts";
import { splitStatements } from "./sql-statements.ts";
import type { StatementCache } from "./statement-cache.ts";
import type { Transactions } from "./transactions.ts";

/** A value SQL returns: INTEGER and REAL as number, TEXT as string, BLOB as ArrayBuffer. */
export type SqlStorageValue = ArrayBuffer | string | number | null;

interface PreparedUserStatement {
  readonly statement: StatementSync;
  readonly writes: boolean;
  readonly columns: string[];
  active: SqlStorageCursor<any> | undefined;
  /** Called when the statement cache drops this statement. */
  evicted(): void;
}

/** The key of `SqlStorage`'s read-only `exec`, for the runtime's own callers (the admin API). */
export const EXEC_READ_ONLY: unique symbol = Symbol("stead.sql.execReadOnly");

/** A read-only query held a statement that writes; nothing ran. */
export class ReadOnlyError extends Error {
  constructor(statement: string) {
    super(
      `The query writes (${statement.length > 80 ? `${statement.slice(0, 77)}...` : statement}) and was refused, nothing ran; it is read-only unless writes are allowed (stead objects sql --write).`,
    );
    this.name = "ReadOnlyError";
  }
}

/** `ctx.storage.sql`: synchronous SQL on the object's own database. */
export class SqlStorage {
  readonly #db: ObjectDatabase;
  readonly #tx: Transactions;

  /** @internal */
  constructor(db: ObjectDatabase, tx: Transactions) {
    this.#db = db;
    this.#tx = tx;
  }

  /**
   * Runs one or more `;`-separated statements; earlier ones run at once and their rows are
   * discarded, the cursor reads the last one's. Only the last statement may take bindings.
   *
   * @example
   * const { n } = ctx.storage.sql.exec("SELECT count(*) AS n FROM messages").one();
   */
  exec<T extends Record<string, SqlStorageValue> = Record<string, SqlStorageValue>>(
    query: string,
    ...bindings: unknown[]
  ): SqlStorageCursor<T> {
    return this.#exec(query, bindings, false) as SqlStorageCursor<T>;
  }

  /** `exec` for an operator's read-only query: refuses, before running any, a statement that writes. */
  [EXEC_READ_ONLY](query: string, bindings: unknown[]): SqlStorageCursor<any> {
    return this.#exec(query, bindings, true);
  }

  #exec(query: string, bindings: unknown[], readOnly: boolean): SqlStorageCursor<any> {
    this.#tx.check();
    if (typeof query !== "string") {
      throw new TypeError(`sql.exec() expects the query as a string, got ${typeof query}.`);
    }
    checkStatementLength(query);
    const params = bindings.map(toSqlParam);
    const statements = splitStatements(query);
    if (readOnly) {
      const writing = statements.find((sql) => this.#prepare(sql).writes);
      if (writing !== undefined) throw new ReadOnlyError(writing);
    }
    const last = statements.pop();
    if (last === undefined) throw new Error("SQL code did not contain a statement.");
    for (const sql of statements) {
      const prepared = this.#prepare(sql);
      // sqlite3_expanded_sql writes a value for every parameter, so only a statement without
      // parameters expands to its own text.
      if (prepared.statement.expandedSQL !== prepared.statement.sourceSQL) {
        throw new Error(
          "When executing multiple SQL statements in a single call, only the last statement can have parameters.",
        );
      }
      this.#run(prepared, []);
    }
    const prepared = this.#prepare(last);
    // Preparing refuses a statement with more than MAX_BINDINGS parameters, so more bindings
    // than that cannot match the statement (workerd checks in the same order).
    if (params.length > MAX_BINDINGS) throw new Error(WRONG_BINDING_COUNT_MESSAGE);
    return this.#run(prepared, params);
  }

  /**
   * workerd's test hook (its `experimental` flag): lowers this object's size limit to `count`
   * pages, so a test can reach `SQLITE_FULL` quickly. Never raises it above
   * `objects.maxDatabaseBytes`; lasts until the object's database connection closes.
   *
   * @example
   * ctx.storage.sql.setMaxPageCountForTest(10); // about 40 KB
   */
  setMaxPageCountForTest(count: number): void {
    this.#tx.check();
    if (!Number.isInteger(count) || count < 1) {
      throw new TypeError(
        `setMaxPageCountForTest() expects a positive whole number of pages, got ${String(count)}.`,
      );
    }
    this.#db.limitPages(count);
  }

  /** The database's size in bytes (pages in use × page size). */
  get databaseSize(): number {
    this.#tx.check();
    const row = this.#db
      .statement(
        "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count FROM pragma_freelist_count()) AS pages, (SELECT page_size FROM pragma_page_size()) AS size",
      )
      .get()!;
    return Number(row.pages) * Number(row.size);
  }

  #prepare(sql: string): PreparedUserStatement {
    const cache = this.#db.userStatements as unknown as StatementCache<PreparedUserStatement>;
    const cached = cache.get(sql);
    if (cached) return cached;
    const db = this.#db.sqlite;
    const authorizer = this.#db.authorizer;
    authorizer.userMode = true;
    authorizer.wrote = false;
    authorizer.lastDenial = undefined;
    let statement: StatementSync;
    try {
      statement = db.prepare(sql);
    } catch (error) {
      throw sqlError(error, authorizer.lastDenial);
    } finally {
      authorizer.userMode = false;
    }
    statement.setReturnArrays(true);
    // INTEGERs beyond 2^53 read as BigInt and become the nearest double, as on Cloudflare,
    // instead of node:sqlite's RangeError.
    statement.setReadBigInts(true);
    const prepared: PreparedUserStatement = {
      statement,
      writes: authorizer.wrote,
      columns: statement.columns().map((c) => c.name),
      active: undefined,
      evicted() {
        // A cursor still reading keeps its statement until it finishes; GC finalizes it then.
        if (this.active === undefined || this.active[FINISHED]) native(this.statement).close?.();
      },
    };
    cache.set(sql, prepared, statementBytes(statement, sql));
    return prepared;
  }

  #run(prepared: PreparedUserStatement, params: SQLInputValue[]): SqlStorageCursor<any> {
    prepared.active?.[CLOSE](
      "SQL cursor was closed because the same statement was executed again. To read two cursors of one query at once, make their query texts differ (for example with a comment).",
    );
    if (prepared.writes) this.#tx.beforeSqlWrite();
    const authorizer = this.#db.authorizer;
    authorizer.userMode = true;
    try {
      let cursor: SqlStorageCursor<any>;
      if (prepared.columns.length === 0) {
        const { changes } = prepared.statement.run(...params);
        cursor = new SqlStorageCursor(prepared.columns, [][Symbol.iterator](), Number(changes));
      } else if (prepared.writes) {
        // Writes run to completion now, so they belong to this turn's transaction.
        const rows = prepared.statement.all(...params) as unknown as SqlStorageValue[][];
        cursor = new SqlStorageCursor(prepared.columns, rows[Symbol.iterator](), rows.length);
      } else {
        const rows = prepared.statement.iterate(...params) as unknown as Iterator<unknown[]>;
        const steps = guardSteps(rows, authorizer, this.#db.hold());
        cursor = new SqlStorageCursor(prepared.columns, steps, 0);
        prepared.active = cursor;
      }
      return cursor;
    } catch (error) {
      throw this.#tx.failedCritically(error) ?? sqlError(error, authorizer.lastDenial);
    } finally {
      authorizer.userMode = false;
    }
  }
}

const CLOSE = Symbol("close");
const FINISHED = Symbol("finished");

/** StatementSync members newer than @types/node knows (Node >= 25). */
function native(statement: StatementSync): StatementSync & {
  close?(): void;
  stat?(counter: "memused"): number;
} {
  return statement;
}

/**
 * What a prepared statement costs in the statement cache: SQLite's own count where node:sqlite
 * reports it (a guess from the text's length otherwise), plus the text.
 */
function statementBytes(statement: StatementSync, sql: string): number {
  const memused = native(statement).stat?.("memused") ?? 2048 + sql.length * 16;
  return memused + sql.length * 2;
}

/** The rows of the last statement of an `exec`, read lazily. */
export class SqlStorageCursor<T extends Record<string, SqlStorageValue>> {
  /** Column names of the result, in order; may repeat (joins). */
  readonly columnNames: string[];
  readonly #rows: Iterator<unknown[]>;
  #rowsRead = 0;
  readonly #rowsWritten: number;
  #closed: string | undefined;
  #done = false;

  /** @internal */
  constructor(columnNames: string[], rows: Iterator<unknown[]>, rowsWritten: number) {
    this.columnNames = columnNames;
    this.#rows = rows;
    this.#rowsWritten = rowsWritten;
    this.#rowsRead = rowsWritten;
  }

  /** Rows read so far (rows returned, and rows written by a write). */
  get rowsRead(): number {
    return this.#rowsRead;
  }

  /** Rows written by the statement. */
  get rowsWritten(): number {
    return this.#rowsWritten;
  }

  /** The next row as an object, iterator-protocol style. */
  next(): { done?: false; value: T } | { done: true; value?: never } {
    const raw = this.#nextRaw();
    if (raw === undefined) return { done: true };
    return { done: false, value: this.#toObject(raw) };
  }

  /** Every remaining row as objects. */
  toArray(): T[] {
    const rows: T[] = [];
    for (let raw = this.#nextRaw(); raw !== undefined; raw = this.#nextRaw()) {
      rows.push(this.#toObject(raw));
    }
    return rows;
  }

  /** The only row; throws if there are none or several. */
  one(): T {
    const first = this.#nextRaw();
    if (first === undefined) {
      throw new Error("Expected exactly one result from SQL query, but got no results.");
    }
    const second = this.#nextRaw();
    this[CLOSE]();
    if (second !== undefined) {
      throw new Error("Expected exactly one result from SQL query, but got multiple results.");
    }
    return this.#toObject(first);
  }

  /** The remaining rows as arrays of values, sharing this cursor's position. */
  *raw<U extends SqlStorageValue[] = SqlStorageValue[]>(): IterableIterator<U> {
    for (let raw = this.#nextRaw(); raw !== undefined; raw = this.#nextRaw()) yield raw as U;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let raw = this.#nextRaw(); raw !== undefined; raw = this.#nextRaw()) {
      yield this.#toObject(raw);
    }
  }

  /** @internal True once the rows ran out or the cursor was closed. */
  get [FINISHED](): boolean {
    return this.#done;
  }

  /** @internal Ends the cursor because its statement ran again. */
  [CLOSE](reason?: string): void {
    if (this.#done) return;
    this.#done = true;
    this.#closed = reason;
    this.#rows.return?.();
  }

  #nextRaw(): SqlStorageValue[] | undefined {
    if (this.#closed) throw new Error(this.#closed);
    if (this.#done) return undefined;
    const step = this.#rows.next();
    if (step.done) {
      this.#done = true;
      return undefined;
    }
    this.#rowsRead++;
    const row = step.value as unknown[];
    for (let i = 0; i < row.length; i++) {
      const value = row[i];
      if (value instanceof Uint8Array) {
        row[i] = value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
      } else if (typeof value === "bigint") {
        row[i] = Number(value);
      }
    }
    return row as SqlStorageValue[];
  }

  #toObject(raw: SqlStorageValue[]): T {
    const row: Record<string, SqlStorageValue> = {};
    const names = this.columnNames;
    for (let i = 0; i < names.length; i++) row[names[i]!] = raw[i]!;
    return row as T;
  }
}

/**
 * Keeps the authorizer in user mode while a lazy cursor steps: SQLite checks some things (table
 * functions, re-prepares after a schema change) only when the statement runs. Holds the
 * connection open until the rows run out, the cursor is closed, or a step fails.
 */
function guardSteps(
  rows: Iterator<unknown[]>,
  authorizer: SqlAuthorizer,
  release: () => void,
): Iterator<unknown[]> {
  return {
    next() {
      authorizer.userMode = true;
      try {
        const step = rows.next();
        if (step.done) release();
        return step;
      } catch (error) {
        release();
        throw sqlError(error, authorizer.lastDenial);
      } finally {
        authorizer.userMode = false;
      }
    },
    return() {
      release();
      return rows.return?.() ?? { done: true, value: undefined };
    },
  };
}

/** Converts an `exec` binding to what node:sqlite binds, with Cloudflare's accepted types. */
function toSqlParam(value: unknown, index: number): SQLInputValue {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case "number":
      return value;
    case "string":
      checkBoundValueLength(value);
      return value;
    case "bigint":
      return Number(value);
    case "boolean":
      return value ? 1 : 0;
    default:
      if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
        const bytes =
          value instanceof ArrayBuffer
            ? new Uint8Array(value)
            : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        checkBoundValueLength(bytes);
        return bytes;
      }
      throw new TypeError(
        `Unsupported type for SQL binding ${index + 1}: ${value === null ? "null" : typeof value}. Bind a number, string, null or ArrayBuffer (serialize objects with JSON.stringify).`,
      );
  }
}
