import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { createPrivateFile } from "./private-files.ts";
import { FileSync, openSqliteFile, syncDirectory } from "./sqlite-file.ts";

/** A data directory's SQLite file that every thread of the process opens (KV, R2, queues). */
export interface SharedSqliteFile {
  readonly db: DatabaseSync;
  /** Resolves once every commit made before the call is durable (fdatasync of the WAL, shared). */
  sync(): Promise<void>;
  /** Syncs what was committed, then closes. */
  close(): Promise<void>;
}

/**
 * Opens `<dataDir>/<name>`, created 0600 as every file of a data directory (its directory entry
 * synced when new), in SQLite's normal locking mode: object threads open it too, and a write
 * waits briefly for another thread's. Commits are made durable off the event loop by an
 * fdatasync of the WAL, the syncs asked for together shared.
 */
export function openSharedSqliteFile(dataDir: string, name: string): SharedSqliteFile {
  const path = join(dataDir, name);
  const created = !existsSync(path) && createPrivateFile(path);
  const db = openSqliteFile(path, { shared: true });
  const wal = new FileSync(`${path}-wal`);
  if (created) syncDirectory(dataDir);
  return {
    db,
    sync: () => wal.sync(),
    close: async () => {
      await wal.sync().catch(() => {});
      wal.close();
      db.close();
    },
  };
}
