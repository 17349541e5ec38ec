import { Buffer } from "node:buffer";

/**
 * One object's stored state as plain JSON data: the record of an export file
 * (`stead objects export`, docs/operations.md) and what an import puts back. Built from a
 * consistent copy of the object's database; applied inside the object in one transaction.
 */
export interface ObjectRecord {
  /** The object's id (64 hex) in the namespace it was exported from. */
  id: string;
  /** The name it was made from (`idFromName`), when known. */
  name: string | null;
  /** The alarm, epoch ms, or null. */
  alarm: number | null;
  /** KV entries in key order: the key and the stored value's bytes (a V8-serialized structured clone), base64. */
  kv: [string, string][];
  /** The object's SQL (SQLite-backed classes); null for a KV-backed class. */
  sql: SqlRecord | null;
}

/** The app's SQL schema and rows. */
export interface SqlRecord {
  /** `PRAGMA user_version`. */
  userVersion: number;
  /** `CREATE` statements in the order SQLite recorded them (tables, virtual tables, indexes, views, triggers). */
  schema: SchemaEntry[];
  /** The rows of every table, virtual tables' shadow tables included. */
  tables: TableRecord[];
  /** `sqlite_sequence`: the last AUTOINCREMENT value of each table that has one. */
  sequences: { name: string; seq: number | { integer: string } }[];
}

export interface SchemaEntry {
  type: "table" | "index" | "view" | "trigger";
  name: string;
  sql: string;
}

export interface TableRecord {
  name: string;
  /** The columns each row gives, in order (generated columns are left out: SQLite computes them). */
  columns: string[];
  /** Each row starts with its rowid (a table that has one); WITHOUT ROWID tables: false. */
  rowid: boolean;
  rows: Cell[][];
}

/**
 * A SQL value as JSON: a string is TEXT; a whole number is INTEGER (beyond 2^53 as
 * `{ integer: "<digits>" }`); any other number is REAL, and a REAL that is whole or infinite is
 * `{ real: n }` (`"Infinity"` / `"-Infinity"`), so every value keeps its storage class; a BLOB is
 * `{ base64 }`.
 */
export type Cell =
  | null
  | string
  | number
  | { base64: string }
  | { integer: string }
  | { real: number | "Infinity" | "-Infinity" };

/** A value read with `setReadBigInts(true)` (INTEGER as bigint, REAL as number) as a `Cell`. */
export function toCell(value: unknown): Cell {
  if (value === null || typeof value === "string") return value;
  if (typeof value === "bigint") {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : { integer: value.toString() };
  }
  if (typeof value === "number") {
    if (value === Number.POSITIVE_INFINITY) return { real: "Infinity" };
    if (value === Number.NEGATIVE_INFINITY) return { real: "-Infinity" };
    return Number.isInteger(value) ? { real: value } : value;
  }
  if (value instanceof Uint8Array) return { base64: Buffer.from(value).toString("base64") };
  throw new TypeError(`internal: not a SQLite value: ${String(value)}`);
}

/** A `Cell` as the value to bind, keeping its storage class (node:sqlite binds numbers as REAL). */
export function fromCell(cell: Cell): null | string | number | bigint | Uint8Array {
  if (cell === null || typeof cell === "string") return cell;
  if (typeof cell === "number") return Number.isInteger(cell) ? BigInt(cell) : cell;
  if ("base64" in cell) return new Uint8Array(Buffer.from(cell.base64, "base64"));
  if ("integer" in cell) return BigInt(cell.integer);
  return typeof cell.real === "number" ? cell.real : Number(cell.real);
}

/** Why `cell` is not a `Cell`, or undefined when it is. */
export function cellProblem(cell: unknown): string | undefined {
  if (cell === null || typeof cell === "string") return undefined;
  if (typeof cell === "number")
    return Number.isFinite(cell) ? undefined : "a number that is not finite";
  if (typeof cell !== "object" || Array.isArray(cell)) return `a value of type ${typeof cell}`;
  const keys = Object.keys(cell);
  const value = (cell as Record<string, unknown>)[keys[0] ?? ""];
  if (keys.length !== 1) return "an object that is not { base64 }, { integer } or { real }";
  switch (keys[0]) {
    case "base64":
      return typeof value === "string" && isBase64(value) ? undefined : "a BLOB that is not base64";
    case "integer":
      return typeof value === "string" && /^-?\d{1,19}$/.test(value)
        ? undefined
        : "an { integer } that is not a string of digits";
    case "real":
      return (typeof value === "number" && Number.isFinite(value)) ||
        value === "Infinity" ||
        value === "-Infinity"
        ? undefined
        : "a { real } that is not a number";
    default:
      return `an object with the key ${keys[0]}`;
  }
}

/** Standard base64, padded (what `Buffer.toString("base64")` writes). */
export function isBase64(text: string): boolean {
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}
