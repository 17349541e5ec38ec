import { accessSync, closeSync, constants, existsSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { SteadError } from "../../core/errors.ts";

/** Which database failed, for the operator: they are repaired differently. */
export type DatabaseRole = "control" | "object" | "lock" | "names";

// SQLite primary result codes (the low byte of node:sqlite's `errcode`).
const SQLITE_PERM = 3;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_CANTOPEN = 14;
const SQLITE_AUTH = 23;
const SQLITE_NOTADB = 26;

const ACCESS_CODES = new Set(["EACCES", "EPERM", "EROFS"]);
const DESCRIPTOR_CODES = new Set(["EMFILE", "ENFILE"]);
/** `<namespace>/<id>` of an object's database or WAL path. */
const OBJECT_FILE = /([^/]+)\/([0-9a-f]{64})\.sqlite(?:-wal)?$/;

/**
 * Throws `DATA_DIR_UNWRITABLE` unless this process may create and write files in `dir`. Call it
 * before anything else touches the data directory, so a read-only directory is reported as one
 * instead of as whichever SQLite error comes first ("disk I/O error", "unable to open database
 * file").
 */
export function assertWritableDir(dir: string, dataDir: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw fileSystemError(dir, dataDir, error);
  }
}

/**
 * `error` from a filesystem call on `path`: a `DATA_DIR_UNWRITABLE` naming the path, what is
 * wrong and the fix when it is a permission or read-only problem; otherwise `error` itself.
 */
export function fileSystemError(path: string, dataDir: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && DESCRIPTOR_CODES.has(code))
    return descriptorsExhausted(path, code, error);
  if (code === undefined || !ACCESS_CODES.has(code)) return error;
  return unwritable(path, dataDir, code, error);
}

/**
 * `DESCRIPTORS_EXHAUSTED` for a file that could not be opened because the process (EMFILE) or
 * the system (ENFILE) has no file descriptors left, naming the file and the fix.
 */
function descriptorsExhausted(path: string, code: string, cause: unknown): SteadError {
  const object = OBJECT_FILE.exec(path);
  const what = object ? `the database of object ${object[1]}/${object[2]}` : path;
  const which = code === "ENFILE" ? "the system has" : "this process has";
  return new SteadError(
    "DESCRIPTORS_EXHAUSTED",
    `Cannot open ${what}: ${which} run out of file descriptors (${code}). Raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit), or lower --max-connections / STEAD_MAX_CONNECTIONS or --max-open-databases / STEAD_MAX_OPEN_DATABASES.`,
    { cause, retryable: true, remote: object !== null },
  );
}

/**
 * EMFILE or ENFILE when this process cannot open a file now. SQLite reports running out only as
 * "unable to open database file" (its errno is not exposed), so one descriptor is opened and
 * closed to find out; only failed opens pay for it.
 */
function descriptorShortage(): string | undefined {
  try {
    closeSync(openSync("/dev/null", "r"));
    return undefined;
  } catch (probe) {
    const code = (probe as NodeJS.ErrnoException).code;
    return code !== undefined && DESCRIPTOR_CODES.has(code) ? code : undefined;
  }
}

/**
 * The error to raise when opening the SQLite database at `path` failed with `error`: corrupt
 * (`CONTROL_DATABASE_CORRUPT` / `OBJECT_DATABASE_CORRUPT`), out of file descriptors
 * (`DESCRIPTORS_EXHAUSTED`), not writable (`DATA_DIR_UNWRITABLE`, found by probing the file and
 * its directory), or else `DATABASE_OPEN_FAILED` with SQLite's own text. Each names the file. Errors that are not SQLite's pass through unchanged.
 */
export function databaseOpenError(
  path: string,
  role: DatabaseRole,
  dataDir: string,
  error: unknown,
): unknown {
  if (error instanceof SteadError) return error;
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== "number") return fileSystemError(path, dataDir, error);
  const primary = errcode & 0xff;
  const sqliteText = (error as Error).message;
  if (role === "lock" && (primary === SQLITE_NOTADB || primary === SQLITE_CORRUPT)) {
    return new SteadError(
      "DATABASE_OPEN_FAILED",
      `The lock file ${path} is damaged (SQLite: ${sqliteText}). It holds no data: once no Stead process uses ${dataDir}, delete it and start again.`,
      { cause: error },
    );
  }
  if (role === "names" && (primary === SQLITE_NOTADB || primary === SQLITE_CORRUPT)) {
    return new SteadError(
      "DATABASE_OPEN_FAILED",
      `The names database ${path} is damaged (SQLite: ${sqliteText}). It holds only the names of objects, for stead objects list, and they are recorded again as objects open: once no Stead process uses ${dataDir}, delete it (with its -wal and -shm files) and start again.`,
      { cause: error },
    );
  }
  if (primary === SQLITE_NOTADB || primary === SQLITE_CORRUPT) {
    return role === "control"
      ? new SteadError(
          "CONTROL_DATABASE_CORRUPT",
          `The control database ${path} is corrupted (SQLite: ${sqliteText}). It records every namespace with its id key, the applied migrations and the alarm index, so Stead cannot start without it. Restore it from a backup of the data directory. Moving it aside (with its -wal file) lets Stead start with a new one, but then every name maps to a new id and pending alarms are forgotten.`,
          { cause: error },
        )
      : new SteadError(
          "OBJECT_DATABASE_CORRUPT",
          `The object database ${path} is corrupted (SQLite: ${sqliteText}). Only this object is affected: its requests fail until the file is repaired. Restore the file from a backup, or move it aside (with its -wal file) to start the object empty.`,
          { cause: error, remote: true },
        );
  }
  if (primary === SQLITE_CANTOPEN || primary === SQLITE_IOERR) {
    const shortage = descriptorShortage();
    if (shortage !== undefined) return descriptorsExhausted(path, shortage, error);
  }
  if (
    primary === SQLITE_READONLY ||
    primary === SQLITE_CANTOPEN ||
    primary === SQLITE_IOERR ||
    primary === SQLITE_PERM ||
    primary === SQLITE_AUTH
  ) {
    const denied = firstDenied(path);
    if (denied !== undefined) return unwritable(denied.path, dataDir, denied.code, error);
  }
  return new SteadError(
    "DATABASE_OPEN_FAILED",
    `Cannot open the ${role === "lock" ? "lock file" : `${role} database`} ${path}: ${sqliteText}. Check the disk (free space, I/O errors in the system log) and that the file is a Stead database.`,
    { cause: error, remote: role === "object" },
  );
}

/** The first of the file's directory, the file and its WAL that this process may not write. */
function firstDenied(path: string): { path: string; code: string } | undefined {
  for (const candidate of [dirname(path), path, `${path}-wal`]) {
    if (candidate !== dirname(path) && !existsSync(candidate)) continue;
    try {
      accessSync(candidate, constants.R_OK | constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== undefined && ACCESS_CODES.has(code)) return { path: candidate, code };
    }
  }
  return undefined;
}

function unwritable(path: string, dataDir: string, code: string, cause: unknown): SteadError {
  const elsewhere = "Or choose another data directory (--data-dir / STEAD_DATA_DIR).";
  if (code === "EROFS") {
    return new SteadError(
      "DATA_DIR_UNWRITABLE",
      `Cannot write ${path}: it is on a read-only filesystem. Stead needs to write its data directory: remount the filesystem read-write. ${elsewhere}`,
      { cause },
    );
  }
  const uid = process.getuid?.();
  const who = uid === undefined ? "this user" : `uid ${uid}`;
  const found = nearestExisting(path);
  let detail: string;
  if (found === undefined) {
    detail = `permission denied. Give the user Stead runs as the data directory: chown -R ${uid ?? "<user>"} ${dataDir} && chmod 700 ${dataDir}.`;
  } else if (found.path !== path) {
    detail = `permission denied: it cannot be created in ${found.path} (owner uid ${found.uid}, mode ${found.mode}; Stead runs as ${who}). Create it for that user: mkdir -p ${dataDir} && chown ${uid ?? "<user>"} ${dataDir} && chmod 700 ${dataDir}.`;
  } else if (found.uid === uid) {
    detail = `permission denied: its mode is ${found.mode}, read-only for its owner, the user Stead runs as (${who}). Make it writable: chmod ${found.isDirectory ? "700" : "600"} ${path}.`;
  } else {
    detail = `permission denied (owner uid ${found.uid}, mode ${found.mode}; Stead runs as ${who}). Run Stead as uid ${found.uid}, or give ${who} the data directory: chown -R ${uid ?? "<user>"} ${dataDir} && chmod 700 ${dataDir}.`;
  }
  return new SteadError("DATA_DIR_UNWRITABLE", `Cannot write ${path}: ${detail} ${elsewhere}`, {
    cause,
  });
}

/** `path`, or its nearest existing parent, with its owner and mode. */
function nearestExisting(
  path: string,
): { path: string; uid: number; mode: string; isDirectory: boolean } | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      const stats = statSync(at);
      const mode = (stats.mode & 0o777).toString(8).padStart(4, "0");
      return { path: at, uid: stats.uid, mode, isDirectory: stats.isDirectory() };
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}
