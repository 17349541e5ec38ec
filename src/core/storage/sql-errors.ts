// The errors user SQL raises, in workerd's shape: SQLite's message, then ": " and the primary
// result code's name ("too many columns on t: SQLITE_ERROR"), as `dbErrorMessage` in workerd's
// src/workerd/util/sqlite.c++ builds them. (workerd also adds " at offset N" and the extended
// code's name where SQLite has them; node:sqlite reports neither.)

/** Primary result codes (https://www.sqlite.org/rescode.html), by number. */
const CODE_NAMES = [
  "SQLITE_OK",
  "SQLITE_ERROR",
  "SQLITE_INTERNAL",
  "SQLITE_PERM",
  "SQLITE_ABORT",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_NOMEM",
  "SQLITE_READONLY",
  "SQLITE_INTERRUPT",
  "SQLITE_IOERR",
  "SQLITE_CORRUPT",
  "SQLITE_NOTFOUND",
  "SQLITE_FULL",
  "SQLITE_CANTOPEN",
  "SQLITE_PROTOCOL",
  "SQLITE_EMPTY",
  "SQLITE_SCHEMA",
  "SQLITE_TOOBIG",
  "SQLITE_CONSTRAINT",
  "SQLITE_MISMATCH",
  "SQLITE_MISUSE",
  "SQLITE_NOLFS",
  "SQLITE_AUTH",
  "SQLITE_FORMAT",
  "SQLITE_RANGE",
  "SQLITE_NOTADB",
] as const;

/**
 * The result codes after which SQLite may have rolled back the whole transaction by itself
 * (https://www.sqlite.org/lang_transaction.html#response_to_errors_within_a_transaction): disk or
 * size limit full, I/O error, out of memory, interrupted. workerd treats them as critical.
 */
const CRITICAL_CODES: ReadonlySet<string> = new Set([
  "SQLITE_FULL",
  "SQLITE_IOERR",
  "SQLITE_NOMEM",
  "SQLITE_INTERRUPT",
]);

/** True for a node:sqlite error whose code may have rolled back the whole transaction. */
export function isCriticalSqliteError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const errcode = (error as { errcode?: unknown }).errcode;
  return typeof errcode === "number" && CRITICAL_CODES.has(CODE_NAMES[errcode & 0xff] ?? "");
}

/**
 * Turns what running user SQL threw into the error apps see: the authorizer's Cloudflare text
 * for a denial, SQLite errors with their code's name, anything else unchanged.
 */
export function sqlError(error: unknown, denial: string | undefined): Error {
  if (denial !== undefined) return new Error(`${denial}: SQLITE_AUTH`);
  if (!(error instanceof Error)) return new Error(String(error));
  const errcode = (error as { errcode?: unknown }).errcode;
  if ((error as { code?: unknown }).code !== "ERR_SQLITE_ERROR" || typeof errcode !== "number") {
    return error;
  }
  const name = CODE_NAMES[errcode & 0xff];
  if (name === undefined || error.message.endsWith(`: ${name}`)) return error;
  return new Error(`${error.message}: ${name}`, { cause: error });
}
