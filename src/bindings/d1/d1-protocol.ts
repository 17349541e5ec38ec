// What crosses between a D1 binding and the Durable Object that holds its database: the binding
// (`D1Database`, in the caller's Worker or object) calls the object's methods over JS RPC, so
// these are plain structured-cloneable values.

/** A value bound to a `?` parameter, as `bind()` leaves it. */
export type D1BoundValue = string | number | null | Uint8Array;

/** A value a row holds: INTEGER and REAL as number, TEXT as string, BLOB as an array of bytes. */
export type D1Value = string | number | null | number[];

/** One statement and its bound values. */
export interface D1Query {
  readonly sql: string;
  readonly params: readonly D1BoundValue[];
}

/** What D1 reports about one statement (`result.meta`). */
export interface D1Meta {
  /** Who answered: this runtime. */
  served_by: string;
  /** Always true: every Stead database is served by its primary. */
  served_by_primary: boolean;
  /** Milliseconds the statement took in SQLite. */
  duration: number;
  /** Rows inserted, updated or deleted by the statement (SQLite's `changes()`). */
  changes: number;
  /** The rowid of the last row inserted (SQLite's `last_insert_rowid()`). */
  last_row_id: number;
  /** True when the statement changed the database (rows, rowid or size). */
  changed_db: boolean;
  /** The database's size in bytes after the statement. */
  size_after: number;
  rows_read: number;
  rows_written: number;
  timings: { sql_duration_ms: number };
}

/** The rows of one statement, as columns and rows of values, with its meta. */
export interface D1QueryResult {
  readonly columns: string[];
  readonly rows: D1Value[][];
  readonly meta: D1Meta;
}

/** The answer to a batch: every statement's result, or the first error (nothing applied). */
export type D1Answer =
  | { readonly ok: true; readonly results: D1QueryResult[]; readonly bookmark?: string }
  | { readonly ok: false; readonly error: string };

/** The answer to `exec`: per line run, its meta; or the failing line's index and error. */
export type D1ExecAnswer =
  | { readonly ok: true; readonly metas: D1Meta[] }
  | { readonly ok: false; readonly line: number; readonly error: string };

/**
 * The database a `D1Database` binding talks to: the methods of its Durable Object, reached
 * through a stub. Every method is one event of the object, so it never interleaves with
 * another, and its answer comes back only once its writes are durable.
 */
export interface D1Backend {
  /** Runs `queries` in one transaction: all applied, or none. `bookmark` asks for the state's bookmark. */
  batch(queries: readonly D1Query[], bookmark: boolean): Promise<D1Answer>;
  /** Runs each statement (no parameters) in its own transaction, stopping at the first failure. */
  exec(statements: readonly string[]): Promise<D1ExecAnswer>;
  /** The whole database as an SQLite file (the runtime's own tables left out). */
  dump(): Promise<ArrayBuffer>;
}
