import pg from "pg";
import { type FeedChange, type KvChange, type SqlValue, toJson } from "./feed-changes.ts";

/** The tables of a PostgreSQL sink: names quoted and qualified by its schema. */
export interface SinkTables {
  schema: string;
  cursors: string;
  changes: string;
}

export function sinkTables(schema: string): SinkTables {
  const q = pg.escapeIdentifier(schema);
  return { schema: q, cursors: `${q}.feed_cursors`, changes: `${q}.feed_changes` };
}

/** A parameterized statement: the sink prepares each distinct text once per connection. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** One array parameter per column: what `unnest` turns back into rows. */
export function columns<T>(
  rows: readonly T[],
  of: ReadonlyArray<(row: T) => unknown>,
): unknown[][] {
  return of.map((column) => rows.map(column));
}

/** The sink's own tables: the cursor per object, and every change as it came. */
export function setUpSql(tables: SinkTables): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${tables.schema};
CREATE TABLE IF NOT EXISTS ${tables.cursors} (
  class text NOT NULL, object_id text NOT NULL, seq bigint NOT NULL,
  object_name text, updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (class, object_id));
CREATE TABLE IF NOT EXISTS ${tables.changes} (
  class text NOT NULL, object_id text NOT NULL, seq bigint NOT NULL, idx integer NOT NULL,
  at timestamptz NOT NULL, kind text NOT NULL, "table" text, op text NOT NULL,
  key jsonb NOT NULL, "values" jsonb,
  PRIMARY KEY (class, object_id, seq, idx));`;
}

/** The projection table (unqualified, unquoted name) of an object table or of KV. */
export function projectionName(className: string, change: FeedChange): string {
  return change.kind === "kv" ? `${className}__kv` : `${className}_${change.table}`;
}

/** A PostgreSQL type for a column first seen holding `value`. */
export function columnType(value: SqlValue): string {
  if (typeof value === "bigint") return "bigint";
  if (typeof value === "number") return "double precision";
  if (value instanceof Uint8Array) return "bytea";
  return "text";
}

/**
 * A value as an untyped literal: PostgreSQL reads it with the column's own input function, so a
 * value the column's type cannot hold (text in a bigint column, 2.5 in an integer one) is an
 * error naming the value, never a silent conversion.
 */
export function literal(value: SqlValue): string {
  if (value === null) return "NULL";
  if (value instanceof Uint8Array) return `'\\x${Buffer.from(value).toString("hex")}'`;
  if (typeof value === "number") {
    return Number.isFinite(value)
      ? `'${value}'`
      : `'${value > 0 ? "Infinity" : value < 0 ? "-Infinity" : "NaN"}'`;
  }
  if (typeof value === "bigint") return `'${value}'`;
  return pg.escapeLiteral(value.replaceAll("\0", ""));
}

export function jsonLiteral(value: unknown): string {
  return `${pg.escapeLiteral(jsonText(value))}::jsonb`;
}

/** A feed value as JSON text (`toJson`), for a jsonb column or parameter. */
export function jsonText(value: unknown): string {
  return JSON.stringify(toJson(value)) ?? "null";
}

/**
 * A KV put's value as JSON text, made once per change: an apply call needs it for the KV
 * projection and again for the raw change row.
 */
export function putValueJson(change: KvChange): string {
  let text = putValueTexts.get(change);
  if (text === undefined) {
    text = jsonText(change.value);
    putValueTexts.set(change, text);
  }
  return text;
}
const putValueTexts = new WeakMap<KvChange, string>();

/** The statement that applies one change to its projection table (`table`: schema-qualified). */
export function projectionSql(table: string, objectId: string, change: FeedChange): string {
  const id = pg.escapeLiteral(objectId);
  if (change.kind === "kv") {
    const key = pg.escapeLiteral(change.key);
    return change.op === "delete"
      ? `DELETE FROM ${table} WHERE object_id = ${id} AND key = ${key}`
      : `INSERT INTO ${table} (object_id, key, value) VALUES (${id}, ${key}, ${jsonLiteral(change.value)}) ON CONFLICT (object_id, key) DO UPDATE SET value = EXCLUDED.value`;
  }
  const where = [
    `object_id = ${id}`,
    ...Object.entries(change.key).map(([column, value]) =>
      value === null ? `${q(column)} IS NULL` : `${q(column)} = ${literal(value)}`,
    ),
  ].join(" AND ");
  if (change.op === "delete") return `DELETE FROM ${table} WHERE ${where}`;
  const values = change.values ?? {};
  if (change.op === "update") {
    const set = Object.entries(values).map(([column, value]) => `${q(column)} = ${literal(value)}`);
    return set.length === 0 ? "SELECT 1" : `UPDATE ${table} SET ${set.join(", ")} WHERE ${where}`;
  }
  const columns = Object.keys(values);
  const keys = Object.keys(change.key);
  const others = columns.filter((column) => !keys.includes(column));
  const conflict = `ON CONFLICT (object_id, ${keys.map(q).join(", ")}) ${
    others.length === 0
      ? "DO NOTHING"
      : `DO UPDATE SET ${others.map((column) => `${q(column)} = EXCLUDED.${q(column)}`).join(", ")}`
  }`;
  return `INSERT INTO ${table} (object_id, ${columns.map(q).join(", ")}) VALUES (${id}, ${columns
    .map((column) => literal(values[column]!))
    .join(", ")}) ${conflict}`;
}

/** A quoted identifier. */
export function q(name: string): string {
  return pg.escapeIdentifier(name);
}
