import { maxOpenDatabases } from "../drivers/local/open-file-limit.ts";
import { UsageError } from "./options.ts";

/** File descriptors one open object database keeps, as `open-file-limit.ts` counts them. */
const DESCRIPTORS_PER_DATABASE = 3;
/** Connections allowed where the open-file limit is unknown. */
const DEFAULT_MAX_CONNECTIONS = 10_000;

/**
 * How many connections the server may hold open, so that connections (one descriptor each) and
 * object databases (three each) together never take more than seven eighths of the process's
 * open-file `limit`; the rest is kept for the process itself (its modules, the control
 * database, outgoing fetches). By default a quarter of the limit, less if the databases leave
 * less; a value set explicitly may use whatever the databases leave, and past that the error
 * names what to lower or raise. `databases` is `--max-open-databases` as given (undefined: the
 * driver's default), already accepted by the driver; `limit` is `openFileLimit()`.
 */
export function maxConnections(
  requested: number | undefined,
  databases: number | undefined,
  limit: number | undefined,
): number {
  if (limit === undefined) return requested ?? DEFAULT_MAX_CONNECTIONS;
  const open = maxOpenDatabases(databases, limit);
  const spare = Math.floor((limit * 7) / 8);
  const left = spare - open * DESCRIPTORS_PER_DATABASE;
  if (requested === undefined) return Math.max(1, Math.min(Math.floor(limit / 4), left));
  if (requested > left) {
    throw new UsageError(
      `--max-connections ${count(requested)} with ${count(open)} open databases (three files each) needs about ${count(requested + open * DESCRIPTORS_PER_DATABASE)} open files, more than the ${count(spare)} this process can spare of the ${count(limit)} it may open (ulimit -n). Set --max-connections / STEAD_MAX_CONNECTIONS to at most ${count(Math.max(1, left))}, lower --max-open-databases / STEAD_MAX_OPEN_DATABASES, or raise the limit (ulimit -n, or LimitNOFILE= in a systemd unit).`,
    );
  }
  return requested;
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
