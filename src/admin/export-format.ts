import { SteadError } from "../core/errors.ts";
import { cellProblem, isBase64, type ObjectRecord } from "../core/object/object-record.ts";

/**
 * Stead's export format (docs/operations.md, "Export and import"): JSON lines, UTF-8. The first
 * line is an `ExportHeader`; each further line is one object's `ObjectRecord`.
 */
export const EXPORT_FORMAT = "stead-export";
export const EXPORT_VERSION = 1;

/** The first line of an export file. */
export interface ExportHeader {
  format: typeof EXPORT_FORMAT;
  version: typeof EXPORT_VERSION;
  /** The class the objects were exported from, and its storage. */
  class: string;
  storageName: string;
  backend: "sqlite" | "kv";
  /** When the export started (ISO 8601), and by which Stead. */
  exportedAt: string;
  stead: string;
}

/** Reads an export file's first line; throws `EXPORT_INVALID` naming the problem. */
export function parseHeader(line: string, where: string): ExportHeader {
  const header = parseLine(line, where) as Partial<ExportHeader>;
  if (header === null || typeof header !== "object" || header.format !== EXPORT_FORMAT) {
    throw invalid(
      `${where}: this is not a Stead export (its first line has no "format": "${EXPORT_FORMAT}").`,
    );
  }
  if (header.version !== EXPORT_VERSION) {
    throw invalid(
      `${where}: the export is version ${String(header.version)}; this Stead reads version ${EXPORT_VERSION}. Use the Stead that wrote it, or a newer one.`,
    );
  }
  if (typeof header.class !== "string" || header.class === "") {
    throw invalid(`${where}: the header names no class.`);
  }
  if (header.backend !== "sqlite" && header.backend !== "kv") {
    throw invalid(`${where}: the header's backend is neither "sqlite" nor "kv".`);
  }
  return header as ExportHeader;
}

/** Reads one record line; throws `EXPORT_INVALID` naming the line and what is wrong. */
export function parseRecord(line: string, where: string): ObjectRecord {
  const record = parseLine(line, where);
  const problem = recordProblem(record);
  if (problem !== undefined) throw invalid(`${where}: ${problem}.`);
  return record as ObjectRecord;
}

function parseLine(line: string, where: string): unknown {
  try {
    return JSON.parse(line);
  } catch (error) {
    throw invalid(`${where} is not JSON (${(error as Error).message}); the file is damaged.`);
  }
}

/** What is wrong with `record` as an `ObjectRecord`, or undefined when nothing is. */
export function recordProblem(record: unknown): string | undefined {
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    return "the record is not an object";
  }
  const r = record as Record<string, unknown>;
  if (typeof r.id !== "string" || !/^[0-9a-f]{64}$/.test(r.id)) {
    return "the record has no id (64 hexadecimal digits)";
  }
  if (r.name !== null && typeof r.name !== "string") return "name is neither a string nor null";
  if (
    r.alarm !== null &&
    !(typeof r.alarm === "number" && Number.isFinite(r.alarm) && r.alarm > 0)
  ) {
    return "alarm is neither a time (ms since the epoch) nor null";
  }
  if (!Array.isArray(r.kv)) return "kv is not a list";
  for (const [i, entry] of r.kv.entries()) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 2 ||
      typeof entry[0] !== "string" ||
      typeof entry[1] !== "string" ||
      !isBase64(entry[1])
    ) {
      return `kv entry ${i} is not [key, base64 value]`;
    }
  }
  if (r.sql === null) return undefined;
  if (typeof r.sql !== "object" || Array.isArray(r.sql)) return "sql is neither an object nor null";
  return sqlProblem(r.sql as Record<string, unknown>);
}

function sqlProblem(sql: Record<string, unknown>): string | undefined {
  if (!Number.isInteger(sql.userVersion)) return "sql.userVersion is not a whole number";
  if (!Array.isArray(sql.schema)) return "sql.schema is not a list";
  for (const [i, entry] of sql.schema.entries()) {
    const e = entry as Record<string, unknown> | null;
    if (
      e === null ||
      typeof e !== "object" ||
      !["table", "index", "view", "trigger"].includes(e.type as string) ||
      typeof e.name !== "string" ||
      typeof e.sql !== "string"
    ) {
      return `sql.schema entry ${i} is not { type, name, sql }`;
    }
  }
  if (!Array.isArray(sql.tables)) return "sql.tables is not a list";
  for (const table of sql.tables as Record<string, unknown>[]) {
    if (table === null || typeof table !== "object" || typeof table.name !== "string") {
      return "an entry of sql.tables has no name";
    }
    const { name, columns, rowid, rows } = table;
    if (!Array.isArray(columns) || !columns.every((c) => typeof c === "string")) {
      return `the columns of table ${name} are not a list of names`;
    }
    if (typeof rowid !== "boolean") return `table ${name} does not say whether rows carry a rowid`;
    if (!Array.isArray(rows)) return `the rows of table ${name} are not a list`;
    const width = columns.length + (rowid ? 1 : 0);
    for (const [i, row] of rows.entries()) {
      if (!Array.isArray(row) || row.length !== width) {
        return `row ${i} of table ${name} does not have ${width} values`;
      }
      for (const cell of row) {
        const problem = cellProblem(cell);
        if (problem !== undefined) return `row ${i} of table ${name} holds ${problem}`;
      }
    }
  }
  if (!Array.isArray(sql.sequences)) return "sql.sequences is not a list";
  for (const entry of sql.sequences as Record<string, unknown>[]) {
    const seq = entry?.seq;
    if (
      typeof entry?.name !== "string" ||
      !(
        Number.isInteger(seq) ||
        (typeof seq === "object" &&
          cellProblem(seq) === undefined &&
          seq !== null &&
          "integer" in seq)
      )
    ) {
      return "an entry of sql.sequences is not { name, seq }";
    }
  }
  return undefined;
}

function invalid(message: string): SteadError {
  return new SteadError("EXPORT_INVALID", message);
}
