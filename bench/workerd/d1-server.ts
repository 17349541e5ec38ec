// The D1 server of the workerd side (w8). workerd has the D1 client built in
// (`cloudflare-internal:d1-api`, a wrapped binding) but no server: the client POSTs
// `{ sql, params }` (or an array of them, for a batch) to its fetcher at `/query` or `/execute`
// and reads JSON back. Locally, Miniflare answers with a SQLite-backed Durable Object; this is
// the same construction, written for the bench: the Worker passes each request to one object of
// the database, which runs the statements in one synchronous transaction on its own SQLite
// database. bench/lib/workerd-config.ts strips the types and serves one such Worker per database.
import { DurableObject } from "cloudflare:workers";

type DurableObjectNamespace<T> = import("stead").DurableObjectNamespace<T>;
type SqlStorage = import("stead").SqlStorage;
type SqlStorageValue = import("stead").SqlStorageValue;

interface Env {
  DATABASE: DurableObjectNamespace<D1DatabaseObject>;
}

/** One statement as the client sends it; a blob parameter is an array of bytes. */
interface Query {
  sql: string;
  params?: unknown[];
}

type ResultsFormat = "ARRAY_OF_OBJECTS" | "ROWS_AND_COLUMNS" | "NONE";

interface Meta {
  duration: number;
  changes: number;
  last_row_id: number;
  changed_db: boolean;
  size_after: number;
  rows_read: number;
  rows_written: number;
}

type Rows = { columns: string[]; rows: unknown[][] };

interface QueryResult {
  success: true;
  results: Rows | Record<string, unknown>[];
  meta: Meta;
}

/** The database's one object: its SQLite database is the D1 database. */
export class D1DatabaseObject extends DurableObject<Env> {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method !== "POST" || (url.pathname !== "/query" && url.pathname !== "/execute")) {
      return Response.json(failure(`${request.method} ${url.pathname} is not served`), {
        status: 404,
      });
    }
    const format = (url.searchParams.get("resultsFormat") ?? "ARRAY_OF_OBJECTS") as ResultsFormat;
    const body = (await request.json()) as Query | Query[];
    const queries = Array.isArray(body) ? body : [body];
    if (queries.length === 0) return Response.json(failure("No SQL statements detected."));
    let results: QueryResult[];
    try {
      // A batch is atomic: one failing statement rolls back the ones before it.
      results = this.ctx.storage.transactionSync(() => queries.map((q) => this.#run(q, format)));
    } catch (error) {
      return Response.json(failure(error instanceof Error ? error.message : String(error)));
    }
    return Response.json(Array.isArray(body) ? results : results[0]);
  }

  #run(query: Query, format: ResultsFormat): QueryResult {
    const sql = this.ctx.storage.sql;
    const before = counters(sql);
    const started = performance.now();
    const cursor = sql.exec(query.sql, ...(query.params ?? []).map(toSqlValue));
    const rows = Array.from(cursor.raw(), (row) => row.map(fromSqlValue));
    const duration = performance.now() - started;
    const after = counters(sql);
    const changes = after.totalChanges - before.totalChanges;
    const columns = cursor.columnNames;
    return {
      success: true,
      results:
        format === "ROWS_AND_COLUMNS"
          ? { columns, rows }
          : format === "NONE"
            ? []
            : rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]]))),
      meta: {
        duration,
        changes,
        last_row_id: after.lastRowId,
        changed_db: changes > 0,
        size_after: sql.databaseSize,
        rows_read: cursor.rowsRead,
        rows_written: cursor.rowsWritten,
      },
    };
  }
}

export default {
  fetch(request: Request, env: Env): Promise<Response> {
    return env.DATABASE.getByName("database").fetch(request);
  },
};

/** What SQLite counts for this connection: rows changed so far, and the last rowid inserted. */
function counters(sql: SqlStorage): { totalChanges: number; lastRowId: number } {
  return sql
    .exec<{ totalChanges: number; lastRowId: number }>(
      "SELECT total_changes() AS totalChanges, last_insert_rowid() AS lastRowId",
    )
    .one();
}

/** A bound value as SQLite takes it: the client sends blobs as arrays of bytes. */
function toSqlValue(value: unknown): unknown {
  return Array.isArray(value) ? new Uint8Array(value).buffer : value;
}

/** A column value as the client expects it: blobs as arrays of bytes. */
function fromSqlValue(value: SqlStorageValue): unknown {
  return value instanceof ArrayBuffer ? Array.from(new Uint8Array(value)) : value;
}

function failure(error: string) {
  return { success: false, error };
}
