import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { DatabaseHandle, StorageDriver } from "./driver.ts";
import {
  createSqlAuthorizer,
  SQLITE_DATABASE_LIMITS,
  type SqlAuthorizer,
} from "./sql-authorizer.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
`;

interface Connection {
  readonly authorizer: SqlAuthorizer;
  readonly statements: Map<string, StatementSync>;
}

/**
 * One object's database as the runtime uses it: opened lazily through the driver, with the
 * hidden tables created, the user-SQL authorizer installed and prepared statements cached per
 * connection (a reopened connection starts a fresh cache).
 */
export class ObjectDatabase {
  readonly #driver: StorageDriver;
  readonly #namespace: string;
  readonly #id: string;
  readonly #name: string | undefined;
  #handle: DatabaseHandle | undefined;
  readonly #connections = new WeakMap<DatabaseSync, Connection>();

  constructor(driver: StorageDriver, namespace: string, id: string, name: string | undefined) {
    this.#driver = driver;
    this.#namespace = namespace;
    this.#id = id;
    this.#name = name;
  }

  /** True once the database was opened (the object has touched storage). */
  get isOpen(): boolean {
    return this.#handle !== undefined;
  }

  /** The driver handle, opening the database on first use. */
  get handle(): DatabaseHandle {
    this.#handle ??= this.#driver.openObject(this.#namespace, this.#id);
    return this.#handle;
  }

  /** The live connection, set up for the runtime. */
  get sqlite(): DatabaseSync {
    const db = this.handle.sqlite;
    if (!this.#connections.has(db)) this.#setUp(db);
    return db;
  }

  /** The authorizer of the live connection. */
  get authorizer(): SqlAuthorizer {
    const db = this.sqlite;
    return this.#connections.get(db)!.authorizer;
  }

  /** A cached prepared statement for runtime-internal SQL. */
  statement(sql: string): StatementSync {
    const db = this.sqlite;
    const connection = this.#connections.get(db)!;
    let statement = connection.statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      // run() reports lastInsertRowid, the connection's last rowid: a user's SQL may have made
      // it exceed 2^53, which node:sqlite refuses to return as a number.
      statement.setReadBigInts(true);
      connection.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs runtime-internal SQL with no result. */
  exec(sql: string): void {
    this.sqlite.exec(sql);
  }

  /** Makes committed transactions durable (see `DatabaseHandle.flush`). */
  flush(): Promise<void> {
    return this.handle.flush();
  }

  /** Drops the connection so SQLite rolls back anything uncommitted; used when resetting. */
  reopen(): void {
    this.#handle?.reopen();
  }

  /** Releases the connection (the object left memory). */
  close(): void {
    this.#handle?.close();
    this.#handle = undefined;
  }

  #setUp(db: DatabaseSync): void {
    const authorizer = createSqlAuthorizer();
    db.setAuthorizer(authorizer.callback);
    // Cloudflare's per-database limits (Node >= 25.8 exposes them; older Nodes skip this).
    if ("limits" in db) Object.assign(db.limits as object, SQLITE_DATABASE_LIMITS);
    // One transaction: a new database is set up with one commit, not three.
    db.exec(`BEGIN; ${SCHEMA}`);
    try {
      if (this.#name !== undefined) {
        db.prepare("INSERT OR IGNORE INTO _cf_METADATA (key, value) VALUES ('name', ?)").run(
          this.#name,
        );
      }
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
    this.#connections.set(db, { authorizer, statements: new Map() });
  }
}
