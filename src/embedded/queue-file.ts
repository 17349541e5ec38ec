import { SqliteQueueStore } from "../bindings/queues/index.ts";
import { openSharedSqliteFile } from "../drivers/local/shared-sqlite-file.ts";

/** The file every queue of a data directory lives in (without `--queues`). */
export const QUEUES_FILE = "queues.sqlite";

/**
 * Opens `<dataDir>/queues.sqlite` (created 0600, as every file of a data directory) for this
 * thread's queues. Object threads open it too, to send (normal locking: a write waits briefly
 * for another thread's). A send resolves once its commit is durable: the WAL is fdatasynced off
 * the event loop, syncs issued together shared. `consumerSide`: this thread delivers messages,
 * and no delivery is in flight yet, so leases a crash left are cleared.
 */
export function openQueueFile(dataDir: string, consumerSide: boolean): SqliteQueueStore {
  const file = openSharedSqliteFile(dataDir, QUEUES_FILE);
  return new SqliteQueueStore(file.db, file.sync, file.close, { clearLeases: consumerSide });
}
