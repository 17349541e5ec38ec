import { Buffer } from "node:buffer";
import type { DatabaseSync } from "node:sqlite";
import type { ObjectSnapshot } from "../core/object/object-admin.ts";
import {
  type ObjectRecord,
  type SchemaEntry,
  type SqlRecord,
  type TableRecord,
  toCell,
} from "../core/object/object-record.ts";
import { objectMetadata, openImage } from "./database-image.ts";

const USER_NAMES = `name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`;

/**
 * The export record of one object, read from a copy of its database (a snapshot taken at a
 * commit boundary), outside the object: the object waited only for the copy.
 */
export function recordOf(snapshot: ObjectSnapshot, backend: "sqlite" | "kv"): ObjectRecord {
  using db = openImage(snapshot.database);
  const { name, alarm } = objectMetadata(db);
  const kv = (
    db.prepare("SELECT key, value FROM _cf_KV ORDER BY key").all() as {
      key: string;
      value: Uint8Array;
    }[]
  ).map(({ key, value }): [string, string] => [key, Buffer.from(value).toString("base64")]);
  return {
    id: snapshot.id,
    name,
    alarm,
    kv,
    sql: backend === "sqlite" ? sqlOf(db) : null,
  };
}

function sqlOf(db: DatabaseSync): SqlRecord {
  const list = db.prepare("PRAGMA main.table_list").all() as {
    name: string;
    type: string;
    wr: number;
  }[];
  const shadows = new Set(list.filter((t) => t.type === "shadow").map((t) => t.name));
  const schema = (
    db
      .prepare(
        `SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND ${USER_NAMES} ORDER BY rowid`,
      )
      .all() as unknown as SchemaEntry[]
  )
    .filter((entry) => !shadows.has(entry.name))
    .map(({ type, name, sql }) => ({ type, name, sql }));
  const tables = list
    .filter((t) => (t.type === "table" || t.type === "shadow") && isUserName(t.name))
    .map((t) => tableOf(db, t.name, t.wr === 0));
  const hasSequences =
    db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
  const sequences = hasSequences
    ? (() => {
        const statement = db.prepare("SELECT name, seq FROM sqlite_sequence ORDER BY name");
        statement.setReadBigInts(true);
        return (statement.all() as { name: string; seq: bigint }[]).map(({ name, seq }) => {
          const cell = toCell(seq);
          return { name, seq: typeof cell === "number" ? cell : { integer: seq.toString() } };
        });
      })()
    : [];
  const { user_version } = db.prepare("PRAGMA user_version").get() as { user_version: number };
  return { userVersion: Number(user_version), schema, tables, sequences };
}

function tableOf(db: DatabaseSync, name: string, hasRowid: boolean): TableRecord {
  const columns = (
    db.prepare(`SELECT name, hidden FROM pragma_table_xinfo(?)`).all(name) as {
      name: string;
      hidden: number;
    }[]
  )
    .filter((column) => Number(column.hidden) === 0)
    .map((column) => column.name);
  const alias = hasRowid
    ? ["rowid", "oid", "_rowid_"].find((candidate) => !columns.includes(candidate))
    : undefined;
  const selected = [...(alias === undefined ? [] : [alias]), ...columns.map(quote)];
  const statement = db.prepare(
    `SELECT ${selected.join(", ")} FROM ${quote(name)}${alias === undefined ? "" : ` ORDER BY ${alias}`}`,
  );
  statement.setReadBigInts(true);
  statement.setReturnArrays(true);
  const rows = (statement.all() as unknown as unknown[][]).map((row) => row.map(toCell));
  return { name, columns, rowid: alias !== undefined, rows };
}

function isUserName(name: string): boolean {
  return !/^_cf_/i.test(name) && !/^sqlite_/i.test(name);
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
