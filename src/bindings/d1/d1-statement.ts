import type { D1BoundValue, D1Meta, D1Query, D1QueryResult, D1Value } from "./d1-protocol.ts";

/** What `all()`, `run()` and each `batch()` item resolve to. */
export interface D1Result<T = Record<string, D1Value>> {
  success: true;
  results: T[];
  meta: D1Meta;
}

/** `raw()`'s options: `columnNames` puts the column names first, as a row of their own. */
export interface D1RawOptions {
  columnNames?: boolean;
}

/** Where a statement runs: its database, or a session of it. */
export interface D1StatementRunner {
  /** Runs the queries in one transaction and resolves to their results; throws D1's errors. */
  run(queries: readonly D1Query[]): Promise<D1QueryResult[]>;
}

/** Marks statements made by `prepare()`; `batch()` takes no others. */
const runners = new WeakMap<D1PreparedStatement, D1StatementRunner>();

/**
 * A statement of a D1 database, with the values bound to its `?` parameters. Immutable: `bind`
 * returns a new statement.
 *
 * @example
 * const { results } = await env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(7).all();
 */
export class D1PreparedStatement {
  /** The SQL text, as given to `prepare()`. */
  readonly statement: string;
  /** The values bound so far. */
  readonly params: readonly D1BoundValue[];

  /** Statements are made by a database's or session's `prepare()`. */
  constructor(runner: D1StatementRunner, statement: string, params: readonly D1BoundValue[] = []) {
    this.statement = statement;
    this.params = params;
    runners.set(this, runner);
  }

  /**
   * Binds values to the statement's parameters, in order: numbers, strings, booleans (as 1 and
   * 0), null, and bytes (an ArrayBuffer, a typed array, or an array of byte values) for BLOBs.
   */
  bind(...values: unknown[]): D1PreparedStatement {
    return new D1PreparedStatement(runners.get(this)!, this.statement, values.map(toBoundValue));
  }

  /** The first row, or one column of it (`D1_COLUMN_NOTFOUND` when the row lacks it); null without rows. */
  async first<T = Record<string, D1Value>>(column?: string): Promise<T | null> {
    const [row] = toObjects(await this.#run());
    if (row === undefined) return null;
    if (column === undefined) return row as T;
    if (row[column] === undefined) {
      throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`, {
        cause: new Error("Column not found"),
      });
    }
    return row[column] as T;
  }

  /** Every row as an object keyed by column name, with the statement's meta. */
  async all<T = Record<string, D1Value>>(): Promise<D1Result<T>> {
    return asResult<T>(await this.#run());
  }

  /** Runs the statement: the same result as `all()` (writes usually read no rows). */
  async run<T = Record<string, D1Value>>(): Promise<D1Result<T>> {
    return asResult<T>(await this.#run());
  }

  /** Every row as an array of values, optionally after a row of the column names. */
  async raw<T = D1Value[]>(options?: D1RawOptions): Promise<T[]> {
    const result = await this.#run();
    const rows = result.rows as T[];
    return options?.columnNames === true ? [result.columns as T, ...rows] : rows;
  }

  async #run(): Promise<D1QueryResult> {
    const [result] = await runners.get(this)!.run([{ sql: this.statement, params: this.params }]);
    return result!;
  }
}

/** Item `index` of a `batch()` as the database runs it; throws for anything `prepare()` did not make. */
export function queryOf(statement: unknown, index: number): D1Query {
  if (!(statement instanceof D1PreparedStatement) || !runners.has(statement)) {
    throw new TypeError(
      `batch() expects statements made by prepare(), but item ${index} is ${describe(statement)}. Pass db.prepare("...").bind(...) for each statement.`,
    );
  }
  return { sql: statement.statement, params: statement.params };
}

/** One result in the shape D1 returns it: rows as objects. */
export function asResult<T>(result: D1QueryResult): D1Result<T> {
  return { success: true, meta: result.meta, results: toObjects(result) as T[] };
}

function toObjects(result: D1QueryResult): Record<string, D1Value>[] {
  const { columns, rows } = result;
  return rows.map((row) => Object.fromEntries(columns.map((name, i) => [name, row[i]!])));
}

function toBoundValue(value: unknown): D1BoundValue {
  switch (typeof value) {
    case "number":
    case "string":
      return value;
    case "boolean":
      return value ? 1 : 0;
    case "object":
      if (value === null) return null;
      if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
      if (ArrayBuffer.isView(value)) {
        return new Uint8Array(
          value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength),
        );
      }
      if (Array.isArray(value) && value.every(isByte)) return Uint8Array.from(value);
  }
  const text = String(value);
  throw new Error(`D1_TYPE_ERROR: Type '${typeof value}' not supported for value '${text}'`, {
    cause: new Error(`Type '${typeof value}' not supported for value '${text}'`),
  });
}

function isByte(value: unknown): boolean {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 256;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "object"}`;
  return `a ${typeof value}`;
}
