import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { SqlStorage } from "../../core/storage/sql.ts";

interface SchemaEntry extends Record<string, string> {
  type: string;
  name: string;
  tbl_name: string;
  sql: string;
}

/**
 * The database behind `sql` as the bytes of an SQLite file, as D1's `dump()` returns it: the
 * user's tables (their rows, rowids and AUTOINCREMENT counters), indexes, triggers and views,
 * and `user_version`, without the runtime's `_cf_` tables. Built in a temporary file, since the
 * object's own database is only reachable through its SQL API.
 */
export function dumpDatabase(sql: SqlStorage): ArrayBuffer {
  const dir = mkdtempSync(join(tmpdir(), "stead-d1-dump-"));
  try {
    const file = join(dir, "dump.sqlite");
    const out = new DatabaseSync(file);
    try {
      copyInto(sql, out);
    } finally {
      out.close();
    }
    const bytes = readFileSync(file);
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function copyInto(sql: SqlStorage, out: DatabaseSync): void {
  // Shadow tables (an FTS index's storage) are rebuilt by their virtual table, not copied.
  const tables = new Map(
    sql
      .exec<{ name: string; type: string; wr: number }>(
        "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main'",
      )
      .toArray()
      .filter(({ name, type }) => (type === "table" || type === "virtual") && userName(name))
      .map((table) => [table.name, table]),
  );
  const schema = sql
    .exec<SchemaEntry>(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid",
    )
    .toArray()
    .filter((entry) => userName(entry.name) && userName(entry.tbl_name));
  out.exec("BEGIN");
  for (const entry of schema) {
    if (entry.type === "table" && tables.has(entry.name)) out.exec(entry.sql);
  }
  for (const table of tables.values()) copyRows(sql, out, table.name, table.wr === 0);
  if (hasSequence(sql)) copySequence(sql, out);
  // Indexes are faster to build once the rows are in, and triggers must not fire on the copy.
  for (const entry of schema) {
    if (entry.type !== "table") out.exec(entry.sql);
  }
  const { user_version } = sql.exec<{ user_version: number }>("PRAGMA user_version").one();
  out.exec(`PRAGMA user_version = ${Number(user_version)}`);
  out.exec("COMMIT");
}

function copyRows(sql: SqlStorage, out: DatabaseSync, table: string, rowid: boolean): void {
  // Generated and hidden columns are computed, not inserted.
  const columns = sql
    .exec<{ name: string; hidden: number }>(`SELECT name, hidden FROM pragma_table_xinfo(?)`, table)
    .toArray()
    .filter(({ hidden }) => hidden === 0)
    .map(({ name }) => quote(name));
  if (rowid) columns.unshift("rowid");
  const list = columns.join(", ");
  const insert = out.prepare(
    `INSERT INTO ${quote(table)} (${list}) VALUES (${columns.map(() => "?").join(", ")})`,
  );
  for (const row of sql.exec(`SELECT ${list} FROM ${quote(table)}`).raw()) {
    insert.run(...row.map(toInput));
  }
}

function hasSequence(sql: SqlStorage): boolean {
  return (
    sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").toArray().length > 0
  );
}

/**
 * AUTOINCREMENT counters, which may be ahead of the rows still present (the copy's own table was
 * created with the first AUTOINCREMENT table).
 */
function copySequence(sql: SqlStorage, out: DatabaseSync): void {
  out.exec("DELETE FROM sqlite_sequence");
  const insert = out.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)");
  for (const [name, seq] of sql.exec("SELECT name, seq FROM sqlite_sequence").raw()) {
    if (typeof name === "string" && userName(name)) insert.run(name, toInput(seq));
  }
}

function userName(name: string): boolean {
  return !/^(_cf_|sqlite_)/i.test(name);
}

function toInput(value: unknown): SQLInputValue {
  return value instanceof ArrayBuffer ? new Uint8Array(value) : (value as SQLInputValue);
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
