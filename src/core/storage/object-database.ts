import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { DatabaseHandle, StorageDriver } from "./driver.ts";
import { createSqlAuthorizer, type SqlAuthorizer } from "./sql-authorizer.ts";
import { MAX_ROW_BYTES, SQLITE_DATABASE_LIMITS } from "./sql-limits.ts";
import { StatementCache } from "./statement-cache.ts";

/** Bytes of the app's prepared statements kept per open database (workerd's figure). */
export const USER_STATEMENT_CACHE_BYTES = 1024 * 1024;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _cf_METADATA (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
`;

/** What `SqlStorage` caches per statement: told when the cache drops it. */
export interface CachedUserStatement {
  evicted(): void;
}

/** What belongs to one open connection; dropped when the driver closes it. */
interface Connection {
  readonly db: DatabaseSync;
  readonly authorizer: SqlAuthorizer;
  /** Runtime-internal statements by SQL text. */
  readonly statements: Map<string, StatementSync>;
  /** The app's statements (`sql.exec`) by SQL text, kept by `SqlStorage`. */
  readonly userStatements: StatementCache<CachedUserStatement>;
}

/**
 * One object's database as the runtime uses it: opened lazily through the driver, with the
 * hidden tables created, the user-SQL authorizer installed and prepared statements cached per
 * connection. The driver may close the connection between uses (its limit of open databases);
 * the next use sets up the new one, and the old one's statements are dropped at once, since a
 * statement keeps its closed database's native object alive.
 */
export class ObjectDatabase {
  readonly #driver: StorageDriver;
  readonly #namespace: string;
  readonly #id: string;
  readonly #name: string | undefined;
  readonly #maxBytes: number;
  #handle: DatabaseHandle | undefined;
  #connection: Connection | undefined;
  readonly #onClose = (): void => {
    this.#connection = undefined;
  };

  /** `maxBytes`: the database's size limit (`ObjectLimits.maxDatabaseBytes`). */
  constructor(
    driver: StorageDriver,
    namespace: string,
    id: string,
    name: string | undefined,
    maxBytes: number,
  ) {
    this.#driver = driver;
    this.#namespace = namespace;
    this.#id = id;
    // The name is a record for tools; the runtime never reads it back (ids carry their name),
    // so a name too long for a row is left out rather than failing the object.
    this.#name =
      name !== undefined && Buffer.byteLength(name) < MAX_ROW_BYTES - 64 ? name : undefined;
    this.#maxBytes = maxBytes;
  }

  /**
   * The driver's step before a new instance of the object (`StorageDriver.prepareObject`), or
   * undefined when it has none.
   */
  prepare(): Promise<void> | undefined {
    return this.#driver.prepareObject?.(this.#namespace, this.#id, this.#name);
  }

  /** True once the database was opened (the object has touched storage). */
  get isOpen(): boolean {
    return this.#handle !== undefined;
  }

  /** The driver handle, opening the database on first use. */
  get handle(): DatabaseHandle {
    this.#handle ??= this.#driver.openObject(this.#namespace, this.#id, {
      onClose: this.#onClose,
      name: this.#name,
    });
    return this.#handle;
  }

  /** The live connection, set up for the runtime. */
  get sqlite(): DatabaseSync {
    return this.#current().db;
  }

  /** The authorizer of the live connection. */
  get authorizer(): SqlAuthorizer {
    return this.#current().authorizer;
  }

  /** The app's prepared statements on the live connection (a new connection starts empty). */
  get userStatements(): StatementCache<CachedUserStatement> {
    return this.#current().userStatements;
  }

  /** A cached prepared statement for runtime-internal SQL. */
  statement(sql: string): StatementSync {
    const connection = this.#current();
    let statement = connection.statements.get(sql);
    if (!statement) {
      statement = connection.db.prepare(sql);
      // run() reports lastInsertRowid, the connection's last rowid: a user's SQL may have made
      // it exceed 2^53, which node:sqlite refuses to return as a number.
      statement.setReadBigInts(true);
      connection.statements.set(sql, statement);
    }
    return statement;
  }

  /** Keeps the connection open until the returned function runs (see `DatabaseHandle.hold`). */
  hold(): () => void {
    return this.handle.hold();
  }

  /**
   * Lowers the size limit of the live connection to `pages` pages (never above the configured
   * limit): workerd's `setMaxPageCountForTest`. It lasts until the connection closes.
   */
  limitPages(pages: number): void {
    const db = this.sqlite;
    db.exec(`PRAGMA max_page_count = ${Math.min(pages, this.#maxPages(db))}`);
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

  #current(): Connection {
    const db = this.handle.sqlite;
    const connection = this.#connection;
    return connection !== undefined && connection.db === db ? connection : this.#setUp(db);
  }

  #setUp(db: DatabaseSync): Connection {
    const authorizer = createSqlAuthorizer();
    db.setAuthorizer(authorizer.callback);
    // Cloudflare's SQL limits, on the connection so SQLite refuses an oversized value, row or
    // statement before storing or building it (Node >= 25.8 exposes them; older Nodes keep
    // only the checks sql.ts and kv-limits.ts make in JavaScript).
    if ("limits" in db) Object.assign(db.limits as object, SQLITE_DATABASE_LIMITS);
    // The object's size limit: SQLite refuses to grow the file past it (SQLITE_FULL). The pragma
    // belongs to the connection, so every new connection sets it again.
    db.exec(`PRAGMA max_page_count = ${this.#maxPages(db)}`);
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
    const connection: Connection = {
      db,
      authorizer,
      statements: new Map(),
      userStatements: new StatementCache(USER_STATEMENT_CACHE_BYTES, (s) => s.evicted()),
    };
    this.#connection = connection;
    return connection;
  }

  #maxPages(db: DatabaseSync): number {
    const { page_size } = db.prepare("PRAGMA page_size").get() as { page_size: number };
    return Math.max(1, Math.floor(this.#maxBytes / page_size));
  }
}
