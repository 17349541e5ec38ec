import { existsSync } from "node:fs";
import { join } from "node:path";
import { SqliteKvStore } from "../bindings/kv/index.ts";
import { createPrivateFile } from "../drivers/local/private-files.ts";
import { FileSync, openSqliteFile, syncDirectory } from "../drivers/local/sqlite-file.ts";

/** The file every KV namespace of a data directory lives in. */
export const KV_FILE = "kv.sqlite";

/**
 * Opens `<dataDir>/kv.sqlite` (created 0600, as every file of a data directory) for the KV
 * bindings of this thread. Object threads open it too: it is opened in SQLite's normal locking
 * mode, and a write waits briefly for another thread's. A put resolves once its commit is
 * durable: the WAL is fdatasynced off the event loop, syncs issued together shared.
 */
export function openKvStore(dataDir: string): SqliteKvStore {
  const path = join(dataDir, KV_FILE);
  const created = !existsSync(path) && createPrivateFile(path);
  const db = openSqliteFile(path, { shared: true });
  const wal = new FileSync(`${path}-wal`);
  if (created) syncDirectory(dataDir);
  return new SqliteKvStore(
    db,
    () => wal.sync(),
    async () => {
      await wal.sync().catch(() => {});
      wal.close();
      db.close();
    },
  );
}
