import type { DatabaseSync } from "node:sqlite";

/**
 * Runs `fn` in one write transaction of a node-level SQLite file that other threads write too
 * (`BEGIN IMMEDIATE` takes the write lock first, waiting for another thread's), committed when
 * it returns and rolled back if it throws.
 */
export function immediateTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = fn();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
