import { SqliteKvStore } from "../bindings/kv/index.ts";
import { openSharedSqliteFile } from "../drivers/local/shared-sqlite-file.ts";

/** The file every KV namespace of a data directory lives in. */
export const KV_FILE = "kv.sqlite";

/**
 * Opens `<dataDir>/kv.sqlite` (created 0600, as every file of a data directory) for the KV
 * bindings of this thread. Object threads open it too: it is opened in SQLite's normal locking
 * mode, and a write waits briefly for another thread's. A put resolves once its commit is
 * durable: the WAL is fdatasynced off the event loop, syncs issued together shared.
 */
export function openKvStore(dataDir: string): SqliteKvStore {
  const file = openSharedSqliteFile(dataDir, KV_FILE);
  return new SqliteKvStore(file.db, file.sync, file.close);
}
