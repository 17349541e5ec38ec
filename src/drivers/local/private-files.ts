import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

/** Modes of everything Stead creates in a data directory: its owner's alone, whatever the umask. */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `path` and its missing parents with mode 0700 (set explicitly: `mkdir` applies the
 * umask). Returns the first directory created, or undefined if `path` existed. An existing
 * directory keeps its mode; `stead start` warns when it is open to others (`exposureWarning`).
 */
export function makePrivateDir(path: string): string | undefined {
  const first = mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first === undefined) return undefined;
  for (let dir = path; ; dir = dirname(dir)) {
    chmodSync(dir, PRIVATE_DIR_MODE);
    if (dir === first || dirname(dir) === dir) break;
  }
  return first;
}

/**
 * Creates an empty file with mode 0600 unless `path` exists; true if it created one. For a
 * SQLite database about to be opened: SQLite creates files 0644 minus the umask, and gives a
 * database's WAL and journal the database file's mode, so a database created here stays 0600
 * with everything SQLite adds next to it. It opens and closes the new file, which is harmless
 * only because nobody can hold a lock on a file that did not exist (`wx` fails otherwise).
 */
export function createPrivateFile(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", PRIVATE_FILE_MODE);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * A warning for the operator when users other than the owner may read or enter `dataDir` (it
 * holds every object's data and the namespaces' id keys), or undefined when it is private.
 */
export function exposureWarning(dataDir: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(dataDir).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  const octal = mode.toString(8).padStart(4, "0");
  return `The data directory ${dataDir} is open to other users (mode ${octal}): it holds every object's data and the secret id keys of its namespaces. Make it private: chmod 700 ${dataDir}`;
}
