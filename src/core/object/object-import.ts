import { Buffer } from "node:buffer";
import { SteadError } from "../errors.ts";
import { storageInternals } from "../storage/durable-object-storage.ts";
import type { AdminTarget } from "./object-admin.ts";
import { fromCell, type ObjectRecord, type TableRecord } from "./object-record.ts";

/** What an import put in the object. */
export interface ImportSummary {
  keys: number;
  tables: number;
  rows: number;
  alarm: number | null;
}

const USER_NAMES = `name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`;

/**
 * Puts `record` (an export's record, already checked for shape) into the object, inside its
 * turn, as one savepoint of the turn's transaction: any failure (a row that breaks a
 * constraint, SQL the object may not run, a duplicate key) rolls all of it back and the object
 * is as it was. An object that holds anything (KV keys, tables, an alarm) is refused unless
 * `replace`, which first removes all of it, in the same savepoint.
 *
 * The schema's statements run as the app's SQL would (the authorizer: no `_cf_` names, no
 * ATTACH); rows, sequences, KV entries and the alarm are written by the runtime.
 */
export function importRecord(
  target: AdminTarget,
  record: ObjectRecord,
  replace: boolean,
): ImportSummary {
  const { db } = target;
  const sql = record.sql;
  if (
    target.backend !== "sqlite" &&
    sql !== null &&
    (sql.schema.length > 0 || sql.tables.length > 0)
  ) {
    throw new SteadError(
      "ADMIN_BAD_REQUEST",
      "This object's class is KV-backed (a new_classes migration): it has no SQL, and the record has tables. Import it into a SQLite-backed class.",
    );
  }
  const internals = storageInternals(target.storage);
  return target.write(() => {
    if (holdsData(target)) {
      if (!replace) {
        throw new SteadError(
          "ADMIN_CONFLICT",
          `The object ${record.name ?? target.id} already holds data (KV keys, rows or an alarm), so nothing was imported into it. Pass --replace (replace: true) to replace what it holds.`,
        );
      }
      db.statement("DELETE FROM _cf_KV").run();
      internals.writeAlarm(null);
    }
    dropUserSchema(target);
    let rows = 0;
    if (sql !== null) {
      // Rows go in table by table; references between them hold again once all are in.
      db.exec("PRAGMA defer_foreign_keys = ON");
      db.exec(`PRAGMA user_version = ${Math.trunc(sql.userVersion)}`);
      const tables = sql.schema.filter((entry) => entry.type === "table");
      const rest = sql.schema.filter((entry) => entry.type !== "table");
      for (const entry of tables) target.storage.sql.exec(entry.sql);
      for (const table of sql.tables) rows += insertRows(target, table);
      for (const { name, seq } of sql.sequences) {
        const value = typeof seq === "number" ? BigInt(seq) : BigInt(seq.integer);
        const updated = db
          .statement("UPDATE sqlite_sequence SET seq = ? WHERE name = ?")
          .run(value, name);
        if (Number(updated.changes) === 0) {
          db.statement("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)").run(name, value);
        }
      }
      // Indexes are built once the rows are in; triggers never fire on the imported rows.
      for (const entry of rest) target.storage.sql.exec(entry.sql);
    }
    const put = db.statement("INSERT INTO _cf_KV (key, value) VALUES (?, ?)");
    for (const [key, value] of record.kv) put.run(key, Buffer.from(value, "base64"));
    if (record.name !== null) {
      db.statement(
        "INSERT INTO _cf_METADATA (key, value) VALUES ('name', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ).run(record.name);
    }
    if (record.alarm !== null) internals.writeAlarm(record.alarm);
    return {
      keys: record.kv.length,
      tables: sql?.tables.length ?? 0,
      rows,
      alarm: record.alarm,
    };
  });
}

/**
 * Whether the object holds anything an import would lose: KV keys, an alarm, or a row in one
 * of its tables. Tables without rows do not count: an app's constructor may have created them
 * (`CREATE TABLE IF NOT EXISTS`) just before the import, and the import replaces the schema.
 */
function holdsData(target: AdminTarget): boolean {
  const { db } = target;
  if (db.statement("SELECT 1 FROM _cf_KV LIMIT 1").get() !== undefined) return true;
  if (db.statement("SELECT 1 FROM _cf_METADATA WHERE key = 'alarm'").get() !== undefined) {
    return true;
  }
  const tables = db.statement("PRAGMA main.table_list").all() as { name: string; type: string }[];
  return tables.some(
    ({ name, type }) =>
      type === "table" &&
      !/^(_cf_|sqlite_)/i.test(name) &&
      db.sqlite.prepare(`SELECT 1 FROM ${quote(name)} LIMIT 1`).get() !== undefined,
  );
}

/** Drops the app's triggers, views and tables (indexes and virtual tables' shadows go with them). */
function dropUserSchema(target: AdminTarget): void {
  const { db } = target;
  const rows = db
    .statement(
      `SELECT type, name FROM sqlite_master WHERE ${USER_NAMES} AND type IN ('trigger', 'view', 'table') AND sql IS NOT NULL`,
    )
    .all() as Array<{ type: string; name: string }>;
  const order = ["trigger", "view", "table"];
  rows.sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
  for (const { type, name } of rows) {
    if (db.statement("SELECT 1 FROM sqlite_master WHERE name = ?").get(name) === undefined)
      continue;
    db.exec(`DROP ${type.toUpperCase()} IF EXISTS ${quote(name)}`);
  }
}

/** Inserts a table's rows, replacing what creating its virtual table may have put there. */
function insertRows(target: AdminTarget, table: TableRecord): number {
  const { db } = target;
  const found = db
    .statement(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ? AND ${USER_NAMES}`)
    .get(table.name) as { sql: string } | undefined;
  if (found === undefined || /^\s*CREATE\s+VIRTUAL\b/i.test(found.sql)) {
    throw new SteadError(
      "ADMIN_BAD_REQUEST",
      `The record has rows for ${table.name}, which its schema does not create as a table.`,
    );
  }
  let names = table.columns.map(quote);
  if (table.rowid) {
    const alias = ["rowid", "oid", "_rowid_"].find((name) => !table.columns.includes(name));
    if (alias === undefined) {
      throw new SteadError(
        "ADMIN_BAD_REQUEST",
        `Table ${table.name} has columns named rowid, oid and _rowid_, so its rowids cannot be set.`,
      );
    }
    names = [alias, ...names];
  }
  const kind = db
    .statement("SELECT type FROM pragma_table_list WHERE schema = 'main' AND name = ?")
    .get(table.name) as { type: string } | undefined;
  // A virtual table's shadow tables (FTS5's index) take their rows as exported, which SQLite's
  // defensive mode refuses: it is lifted for these statements alone, none of them the app's.
  const shadow = kind?.type === "shadow";
  if (shadow) db.sqlite.enableDefensive(false);
  try {
    db.exec(`DELETE FROM ${quote(table.name)}`);
    if (table.rows.length === 0) return 0;
    const insert = db.sqlite.prepare(
      `INSERT INTO ${quote(table.name)} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
    );
    for (const row of table.rows) {
      if (row.length !== names.length) {
        throw new SteadError(
          "ADMIN_BAD_REQUEST",
          `A row of ${table.name} has ${row.length} values for ${names.length} columns.`,
        );
      }
      insert.run(...row.map(fromCell));
    }
    return table.rows.length;
  } finally {
    if (shadow) db.sqlite.enableDefensive(true);
  }
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
