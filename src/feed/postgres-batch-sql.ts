import pg from "pg";
import type { FeedChange, KvChange, RowChange } from "./feed-changes.ts";
import {
  columns,
  jsonText,
  literal,
  projectionSql,
  putValueJson,
  q,
  type SinkTables,
  type Statement,
} from "./postgres-statements.ts";

/** One object's change, in the order the apply call meets it. */
export interface ObjectChange {
  className: string;
  id: string;
  change: FeedChange;
}

/**
 * The statements that apply `changes` (every object's, in order: per object in commit order) to
 * their projections, as few as give the same result as one statement per change, so PostgreSQL
 * parses and plans a handful per apply call rather than one per change:
 *
 * - KV: only the last put or delete of each (object, key) counts (a KV projection row is the
 *   whole value), so per KV table one upsert of the last puts and one DELETE of the last
 *   deletes, each a prepared statement taking its rows as arrays (PostgreSQL plans it once per
 *   connection; a multi-row VALUES of literals is parsed and planned again every time).
 * - SQL rows: consecutive inserts (same table, same columns) go in one multi-row upsert, and
 *   consecutive deletes (same table) in one DELETE, as long as no row repeats within it (an
 *   upsert may not touch a row twice); an update, or a row met again, starts a new statement.
 *   Order across statements is the changes' order.
 *
 * `projection` gives a change's schema-qualified projection table.
 */
export function batchProjectionSql(
  changes: Iterable<ObjectChange>,
  projection: (className: string, change: FeedChange) => string,
): Array<string | Statement> {
  const statements: Array<string | Statement> = [];
  const kv = new Map<string, Map<string, { id: string; change: KvChange }>>();
  let group: RowGroup | undefined;
  const close = () => {
    if (group !== undefined) statements.push(group.sql());
    group = undefined;
  };
  for (const { className, id, change } of changes) {
    const table = projection(className, change);
    if (change.kind === "kv") {
      let entries = kv.get(table);
      if (entries === undefined) {
        entries = new Map();
        kv.set(table, entries);
      }
      const key = `${id}\0${change.key}`;
      // Re-inserted so the map's order stays the order of last changes.
      entries.delete(key);
      entries.set(key, { id, change });
      continue;
    }
    if (group?.takes(table, id, change) !== true) {
      close();
      const started = RowGroup.start(table, id, change);
      if (started === undefined) statements.push(projectionSql(table, id, change));
      else group = started;
    }
  }
  close();
  for (const [table, entries] of kv) {
    statements.push(...kvStatements(table, [...entries.values()]));
  }
  return statements;
}

function kvStatements(
  table: string,
  entries: Array<{ id: string; change: KvChange }>,
): Statement[] {
  const puts = entries.filter(({ change }) => change.op === "put");
  const deletes = entries.filter(({ change }) => change.op === "delete");
  const statements: Statement[] = [];
  if (puts.length > 0) {
    statements.push({
      text: `INSERT INTO ${table} (object_id, key, value) SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[]) ON CONFLICT (object_id, key) DO UPDATE SET value = EXCLUDED.value`,
      values: columns(puts, [(e) => e.id, (e) => e.change.key, (e) => putValueJson(e.change)]),
    });
  }
  if (deletes.length > 0) {
    statements.push({
      text: `DELETE FROM ${table} AS t USING unnest($1::text[], $2::text[]) AS d (object_id, key) WHERE t.object_id = d.object_id AND t.key = d.key`,
      values: columns(deletes, [(e) => e.id, (e) => e.change.key]),
    });
  }
  return statements;
}

/** One change as the raw change table records it. */
export interface RawChange {
  className: string;
  id: string;
  seq: number;
  /** The change's place in its commit. */
  idx: number;
  /** When the commit was made, epoch ms. */
  at: number;
  change: FeedChange;
}

/** The raw change row of `batch`'s `commit`'s change at `idx`. */
export function rawChange(
  batch: { className: string; id: string },
  commit: { seq: number; at: number },
  idx: number,
  change: FeedChange,
): RawChange {
  return { className: batch.className, id: batch.id, seq: commit.seq, idx, at: commit.at, change };
}

/** Records `rows` in the raw change table, once each whatever is delivered again. */
export function rawChangesStatement(tables: SinkTables, rows: readonly RawChange[]): Statement {
  return {
    text: `INSERT INTO ${tables.changes} (class, object_id, seq, idx, at, kind, "table", op, key, "values")
SELECT class, object_id, seq, idx, to_timestamp(at / 1000), kind, tbl, op, key, vals
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[], $5::float8[], $6::text[], $7::text[], $8::text[], $9::jsonb[], $10::jsonb[])
  AS r (class, object_id, seq, idx, at, kind, tbl, op, key, vals)
ON CONFLICT DO NOTHING`,
    values: columns(rows, [
      (r) => r.className,
      (r) => r.id,
      (r) => r.seq,
      (r) => r.idx,
      (r) => r.at,
      (r) => r.change.kind,
      (r) => (r.change.kind === "row" ? r.change.table : null),
      (r) => r.change.op,
      (r) => jsonText(r.change.key),
      (r) => {
        const { change } = r;
        if (change.kind === "row")
          return change.values === undefined ? null : jsonText(change.values);
        return change.op === "put" ? putValueJson(change) : null;
      },
    ]),
  };
}

/** Consecutive inserts or deletes of one table that one statement applies together. */
class RowGroup {
  readonly #table: string;
  readonly #op: "insert" | "delete";
  /** insert: the columns, in order; delete: the key's columns. */
  readonly #columns: string[];
  readonly #keyColumns: string[];
  readonly #rows: string[] = [];
  readonly #seen = new Set<string>();

  private constructor(table: string, op: "insert" | "delete", change: RowChange) {
    this.#table = table;
    this.#op = op;
    this.#keyColumns = Object.keys(change.key);
    this.#columns = op === "insert" ? Object.keys(change.values ?? {}) : this.#keyColumns;
  }

  /** A group begun with `change`; undefined when it is applied alone (an update, a NULL key). */
  static start(table: string, id: string, change: RowChange): RowGroup | undefined {
    if (change.op === "update") return undefined;
    if (change.op === "delete" && Object.values(change.key).includes(null)) return undefined;
    const group = new RowGroup(table, change.op, change);
    return group.takes(table, id, change) ? group : undefined;
  }

  /** Adds `change` if it belongs here; false: a new statement must begin. */
  takes(table: string, id: string, change: FeedChange): boolean {
    if (change.kind !== "row" || change.op !== this.#op || table !== this.#table) return false;
    if (!sameNames(Object.keys(change.key), this.#keyColumns)) return false;
    const values = this.#op === "insert" ? (change.values ?? {}) : change.key;
    if (this.#op === "insert" && !sameNames(Object.keys(values), this.#columns)) return false;
    if (this.#op === "delete" && Object.values(values).includes(null)) return false;
    const key = JSON.stringify([id, ...this.#keyColumns.map((c) => keyText(change.key[c]))]);
    if (this.#seen.has(key)) return false;
    this.#seen.add(key);
    this.#rows.push(
      `(${pg.escapeLiteral(id)}, ${this.#columns.map((c) => literal(values[c]!)).join(", ")})`,
    );
    return true;
  }

  sql(): string {
    const columns = this.#columns.map(q).join(", ");
    if (this.#op === "delete") {
      return `DELETE FROM ${this.#table} WHERE (object_id, ${columns}) IN (${this.#rows.join(", ")})`;
    }
    const others = this.#columns.filter((column) => !this.#keyColumns.includes(column));
    const conflict = `ON CONFLICT (object_id, ${this.#keyColumns.map(q).join(", ")}) ${
      others.length === 0
        ? "DO NOTHING"
        : `DO UPDATE SET ${others.map((column) => `${q(column)} = EXCLUDED.${q(column)}`).join(", ")}`
    }`;
    return `INSERT INTO ${this.#table} (object_id, ${columns}) VALUES ${this.#rows.join(", ")} ${conflict}`;
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** A key value as text that tells types apart (1 and '1' are different keys in SQLite). */
function keyText(value: unknown): string {
  if (value instanceof Uint8Array) return `x${Buffer.from(value).toString("hex")}`;
  return `${typeof value}:${String(value)}`;
}
