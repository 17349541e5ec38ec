import type { ControlChange, ControlStore, NamespaceRecord } from "../../core/storage/driver.ts";
import type { PgPool } from "./pg-pool.ts";

/**
 * Namespaces and applied migrations in PostgreSQL, read once at start and kept in memory, so
 * reads are synchronous; `commit` writes through in one PostgreSQL transaction. Namespaces
 * deleted by a migration (`deleteNamespace`) lose their rows in the same transaction as the
 * migration's record.
 */
export class PostgresControlStore implements ControlStore {
  readonly #pool: PgPool;
  readonly #S: string;
  #records: NamespaceRecord[];
  #applied: string[];
  readonly #deleting = new Set<string>();

  private constructor(pool: PgPool, S: string, records: NamespaceRecord[], applied: string[]) {
    this.#pool = pool;
    this.#S = S;
    this.#records = records;
    this.#applied = applied;
  }

  static async load(pool: PgPool, S: string): Promise<PostgresControlStore> {
    const rows = await pool.query(
      `SELECT class_name, storage_name, unique_key, backend FROM ${S}.namespaces ORDER BY class_name`,
    );
    const tags = await pool.query(`SELECT tag FROM ${S}.applied_migrations ORDER BY seq`);
    return new PostgresControlStore(
      pool,
      S,
      rows.map((row) => ({
        className: row.class_name,
        storageName: row.storage_name,
        uniqueKey: row.unique_key,
        backend: row.backend,
      })),
      tags.map((row) => row.tag as string),
    );
  }

  namespaces(): NamespaceRecord[] {
    return this.#records.map((record) => ({ ...record }));
  }

  appliedMigrations(): string[] {
    return [...this.#applied];
  }

  /** Deletes a namespace's objects and alarms with the next `commit` (see `deleteNamespace`). */
  deleteWithNextCommit(storageName: string): void {
    this.#deleting.add(storageName);
  }

  /** Whether `storageName` was deleted and its rows wait for the next `commit`. */
  deleting(storageName: string): boolean {
    return this.#deleting.has(storageName);
  }

  async commit(change: ControlChange): Promise<void> {
    const S = this.#S;
    const deleting = [...this.#deleting];
    await this.#pool.transaction(async (tx) => {
      if (deleting.length > 0) {
        for (const table of [
          "object_log",
          "object_pages",
          "object_base_pages",
          "object_history",
          "objects",
          "alarms",
        ]) {
          await tx.query(`DELETE FROM ${S}.${table} WHERE namespace = ANY($1)`, [deleting]);
        }
      }
      for (const className of change.remove ?? []) {
        await tx.query(`DELETE FROM ${S}.namespaces WHERE class_name = $1`, [className]);
      }
      for (const r of change.put ?? []) {
        await tx.query(
          `INSERT INTO ${S}.namespaces (class_name, storage_name, unique_key, backend) VALUES ($1, $2, $3, $4)
           ON CONFLICT (class_name) DO UPDATE SET storage_name = $2, unique_key = $3, backend = $4`,
          [r.className, r.storageName, r.uniqueKey, r.backend],
        );
      }
      if (change.migrationTag !== undefined) {
        await tx.query(`INSERT INTO ${S}.applied_migrations (tag) VALUES ($1)`, [
          change.migrationTag,
        ]);
      }
    });
    for (const name of deleting) this.#deleting.delete(name);
    const removed = new Set([
      ...(change.remove ?? []),
      ...(change.put ?? []).map((r) => r.className),
    ]);
    this.#records = [
      ...this.#records.filter((r) => !removed.has(r.className)),
      ...(change.put ?? []).map((r) => ({ ...r })),
    ].sort((a, b) => (a.className < b.className ? -1 : a.className > b.className ? 1 : 0));
    if (change.migrationTag !== undefined) this.#applied.push(change.migrationTag);
  }
}
