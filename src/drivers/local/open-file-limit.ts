import { readFileSync } from "node:fs";

/** File descriptors one open object database keeps: SQLite's database and WAL, and our WAL sync. */
const DESCRIPTORS_PER_DATABASE = 3;
/** Databases kept open when nothing else bounds them. */
const DEFAULT_MAX_OPEN = 2_000;

/**
 * How many object databases the driver keeps open, given the process's open-file `limit`
 * (`openFileLimit()`; undefined if unknown). By default 2,000, or fewer where they would take
 * more than half the limit (each keeps three descriptors; sockets need the rest). A value set
 * explicitly may take up to three quarters; past that, the error says what to lower or raise,
 * rather than the process failing with EMFILE under load.
 */
export function maxOpenDatabases(requested: number | undefined, limit: number | undefined): number {
  if (requested === undefined) {
    if (limit === undefined) return DEFAULT_MAX_OPEN;
    return Math.max(
      1,
      Math.min(DEFAULT_MAX_OPEN, Math.floor(limit / 2 / DESCRIPTORS_PER_DATABASE)),
    );
  }
  if (!Number.isInteger(requested) || requested < 1) {
    throw new RangeError(
      `LocalDriver maxOpenDatabases must be a positive integer, got ${String(requested)}.`,
    );
  }
  if (limit !== undefined && requested * DESCRIPTORS_PER_DATABASE > (limit * 3) / 4) {
    const most = Math.max(1, Math.floor((limit * 3) / 4 / DESCRIPTORS_PER_DATABASE));
    throw new RangeError(
      `maxOpenDatabases ${count(requested)} needs about ${count(requested * DESCRIPTORS_PER_DATABASE)} open files (three per database), but this process may open only ${count(limit)} (ulimit -n). Set --max-open-databases / STEAD_MAX_OPEN_DATABASES / maxOpenDatabases to at most ${count(most)}, or raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit).`,
    );
  }
  return requested;
}

/**
 * The process's limit on open files (Node raises the soft limit to the hard one at start), or
 * undefined where it cannot be read (no /proc) or is unlimited.
 */
export function openFileLimit(): number | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\d+)/m.exec(text);
  return match === null ? undefined : Number(match[1]);
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
