import pg from "pg";
import type { FeedChange, KvChange, RowChange } from "./feed-changes.ts";
import { jsonLiteral, literal, projectionSql, q } from "./postgres-statements.ts";

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
 *   whole value), so per KV table one multi-row upsert of the last puts and one DELETE of the
 *   last deletes.
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
): string[] {
  const statements: string[] = [];
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
  for (const [table, entries] of kv) statements.push(...kvSql(table, [...entries.values()]));
  return statements;
}

function kvSql(table: string, entries: Array<{ id: string; change: KvChange }>): string[] {
  const puts: string[] = [];
  const deletes: string[] = [];
  for (const { id, change } of entries) {
    const row = `${pg.escapeLiteral(id)}, ${pg.escapeLiteral(change.key)}`;
    if (change.op === "delete") deletes.push(`(${row})`);
    else puts.push(`(${row}, ${jsonLiteral(change.value)})`);
  }
  const statements: string[] = [];
  if (puts.length > 0) {
    statements.push(
      `INSERT INTO ${table} (object_id, key, value) VALUES ${puts.join(", ")} ON CONFLICT (object_id, key) DO UPDATE SET value = EXCLUDED.value`,
    );
  }
  if (deletes.length > 0) {
    statements.push(`DELETE FROM ${table} WHERE (object_id, key) IN (${deletes.join(", ")})`);
  }
  return statements;
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
