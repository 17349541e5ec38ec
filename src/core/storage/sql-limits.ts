// Cloudflare's SQL limits for SQLite-backed objects (platform limits page; workerd's
// `SqliteDatabase::setupSecurity` in src/workerd/util/sqlite.c++). They are set on every object
// connection, so they bind the runtime's own statements too: those stay far below them (two
// columns, at most 100 placeholders, KV rows checked by kv-limits.ts first).
import type { DatabaseSyncOptions } from "node:sqlite";

/**
 * Largest string, BLOB or row, in bytes: Cloudflare's documented 2 MB (SQLite's
 * SQLITE_LIMIT_LENGTH covers all three with one number). Local workerd builds allow more (4 MiB
 * in its source since 2026-08, about 8 MiB in the 2026-11-17 binary); Stead keeps the documented
 * figure, so what runs here fits on Cloudflare.
 */
export const MAX_ROW_BYTES = 2 * 1024 * 1024;
/** Largest SQL text of one `exec()` call, in UTF-8 bytes (SQLITE_LIMIT_SQL_LENGTH). */
export const MAX_STATEMENT_BYTES = 100_000;
/** Most bound parameters per statement (SQLITE_LIMIT_VARIABLE_NUMBER). */
export const MAX_BINDINGS = 100;
/** Most columns per table, index, result set or VALUES row (SQLITE_LIMIT_COLUMN). */
export const MAX_COLUMNS = 100;

/** Connection limits for `new DatabaseSync(path, { limits })` or `db.limits` (Node >= 25.8). */
export const SQLITE_DATABASE_LIMITS: NonNullable<DatabaseSyncOptions["limits"]> = {
  length: MAX_ROW_BYTES,
  sqlLength: MAX_STATEMENT_BYTES,
  column: MAX_COLUMNS,
  variableNumber: MAX_BINDINGS,
  exprDepth: 100,
  compoundSelect: 5,
  vdbeOp: 25_000,
  // workerd keeps SQLite's default 127 here, though the docs say 32 (json_object needs many).
  functionArg: 127,
  attach: 0,
  likePatternLength: 50,
  triggerDepth: 10,
};

// workerd's texts: SQLite's message, then ": " and the result code's name.
export const TOO_BIG_MESSAGE = "string or blob too big: SQLITE_TOOBIG";
export const STATEMENT_TOO_LONG_MESSAGE = "statement too long: SQLITE_TOOBIG";
export const WRONG_BINDING_COUNT_MESSAGE = "Wrong number of parameter bindings for SQL query.";

/**
 * Refuses SQL text over the statement limit before anything is parsed or run. Cheap first: a
 * string's UTF-8 length is at least its UTF-16 length and at most three times it.
 */
export function checkStatementLength(query: string): void {
  if (query.length * 3 <= MAX_STATEMENT_BYTES) return;
  if (query.length > MAX_STATEMENT_BYTES || Buffer.byteLength(query) > MAX_STATEMENT_BYTES) {
    throw new Error(STATEMENT_TOO_LONG_MESSAGE);
  }
}

/**
 * Refuses a bound string or BLOB over the length limit before it is converted or copied (SQLite
 * would refuse it at bind time, after node:sqlite had made a UTF-8 copy of a string).
 */
export function checkBoundValueLength(value: string | Uint8Array): void {
  const tooBig =
    typeof value === "string"
      ? value.length > MAX_ROW_BYTES ||
        (value.length * 3 > MAX_ROW_BYTES && Buffer.byteLength(value) > MAX_ROW_BYTES)
      : value.byteLength > MAX_ROW_BYTES;
  if (tooBig) throw new Error(TOO_BIG_MESSAGE);
}
