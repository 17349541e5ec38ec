import { DatabaseSync } from "node:sqlite";

/**
 * Opens the bytes of an object's database file (a snapshot, a backup's file) as a private
 * in-memory database, to read. The copy says WAL mode in its header (bytes 18-19), which an
 * in-memory database cannot open, so it is marked as a rollback-journal database first; the
 * pages are otherwise the file's. Close it (`using`) when done.
 */
export function openImage(database: Uint8Array): DatabaseSync {
  const bytes = Buffer.from(database);
  if (bytes.length >= 100) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  const db = new DatabaseSync(":memory:");
  try {
    db.deserialize(bytes);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** What an object's database says about itself: its name and alarm (`_cf_METADATA`). */
export function objectMetadata(db: DatabaseSync): { name: string | null; alarm: number | null } {
  const rows = db.prepare("SELECT key, value FROM _cf_METADATA").all() as {
    key: string;
    value: unknown;
  }[];
  const value = (key: string) => rows.find((row) => row.key === key)?.value;
  const name = value("name");
  const alarm = value("alarm");
  return {
    name: typeof name === "string" ? name : null,
    alarm: alarm === undefined || alarm === null ? null : Number(alarm),
  };
}
