import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { ControlChange, ControlStore, NamespaceRecord } from "../../core/storage/driver.ts";
import { immediateTransaction } from "../../core/storage/immediate-transaction.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS namespaces (
  class_name TEXT PRIMARY KEY,
  storage_name TEXT NOT NULL UNIQUE,
  unique_key TEXT NOT NULL UNIQUE,
  backend TEXT NOT NULL CHECK (backend IN ('sqlite', 'kv'))
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS applied_migrations (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  tag TEXT NOT NULL UNIQUE
);
`;

/** Namespace records and applied migration tags in the node's control database. */
export class LocalControlStore implements ControlStore {
  readonly #db: DatabaseSync;
  readonly #all: StatementSync;
  readonly #tags: StatementSync;
  readonly #remove: StatementSync;
  readonly #put: StatementSync;
  readonly #addTag: StatementSync;
  readonly #makeDurable: () => Promise<void>;

  /** `makeDurable` resolves once everything committed to the control database is on disk. */
  constructor(db: DatabaseSync, makeDurable: () => Promise<void>) {
    db.exec(SCHEMA);
    this.#db = db;
    this.#all = db.prepare("SELECT * FROM namespaces ORDER BY class_name");
    this.#tags = db.prepare("SELECT tag FROM applied_migrations ORDER BY seq");
    this.#remove = db.prepare("DELETE FROM namespaces WHERE class_name = ?");
    this.#put = db.prepare(
      `INSERT INTO namespaces (class_name, storage_name, unique_key, backend) VALUES (?, ?, ?, ?)
       ON CONFLICT (class_name) DO UPDATE SET storage_name = excluded.storage_name,
         unique_key = excluded.unique_key, backend = excluded.backend`,
    );
    this.#addTag = db.prepare("INSERT INTO applied_migrations (tag) VALUES (?)");
    this.#makeDurable = makeDurable;
  }

  namespaces(): NamespaceRecord[] {
    return this.#all.all().map((row) => ({
      className: row.class_name as string,
      storageName: row.storage_name as string,
      uniqueKey: row.unique_key as string,
      backend: row.backend as NamespaceRecord["backend"],
    }));
  }

  appliedMigrations(): string[] {
    return this.#tags.all().map((row) => row.tag as string);
  }

  async commit(change: ControlChange): Promise<void> {
    immediateTransaction(this.#db, () => {
      for (const className of change.remove ?? []) this.#remove.run(className);
      for (const r of change.put ?? []) {
        this.#put.run(r.className, r.storageName, r.uniqueKey, r.backend);
      }
      if (change.migrationTag !== undefined) this.#addTag.run(change.migrationTag);
    });
    await this.#makeDurable();
  }
}
