import { join } from "node:path";
import { BlobFiles, FileR2Store } from "../bindings/r2/index.ts";
import { makePrivateDir } from "../drivers/local/private-files.ts";
import { openSharedSqliteFile } from "../drivers/local/shared-sqlite-file.ts";
import { syncDirectory } from "../drivers/local/sqlite-file.ts";

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
  const blobs = join(dataDir, R2_BLOBS);
  if (makePrivateDir(blobs) !== undefined) syncDirectory(dataDir);
  const file = openSharedSqliteFile(dataDir, R2_FILE);
  const store = new FileR2Store(file.db, new BlobFiles(blobs), file.sync, file.close);
  if (sweep) store.sweep();
  return store;
}
