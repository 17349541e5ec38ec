import { existsSync } from "node:fs";
import { join } from "node:path";
import { BlobFiles, FileR2Store } from "../bindings/r2/index.ts";
import { createPrivateFile, makePrivateDir } from "../drivers/local/private-files.ts";
import { FileSync, openSqliteFile, syncDirectory } from "../drivers/local/sqlite-file.ts";

/** The database every R2 bucket's metadata lives in, and the directory of their bytes. */
export const R2_FILE = "r2.sqlite";
export const R2_BLOBS = "r2-blobs";

/**
 * Opens `<dataDir>/r2.sqlite` and `<dataDir>/r2-blobs/` (0600 / 0700, as everything in a data
 * directory) for the R2 buckets of this thread. `sweep`: remove blob files a crash left without
 * a record; only the main thread does it, before anything is served. A commit is durable once
 * the WAL is fdatasynced, off the event loop.
 */
export function openR2Store(dataDir: string, sweep: boolean): FileR2Store {
  const path = join(dataDir, R2_FILE);
  const blobs = join(dataDir, R2_BLOBS);
  const created = !existsSync(path) && createPrivateFile(path);
  const madeDir = makePrivateDir(blobs) !== undefined;
  if (created || madeDir) syncDirectory(dataDir);
  const db = openSqliteFile(path, { shared: true });
  const wal = new FileSync(`${path}-wal`);
  const store = new FileR2Store(
    db,
    new BlobFiles(blobs),
    () => wal.sync(),
    async () => {
      await wal.sync().catch(() => {});
      wal.close();
      db.close();
    },
  );
  if (sweep) store.sweep();
  return store;
}
