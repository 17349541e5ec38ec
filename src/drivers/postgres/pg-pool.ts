import { createHash } from "node:crypto";
import pg from "pg";

/** A row as PostgreSQL returns it: `bigint` columns as strings, `bytea` as Buffers. */
export type Row = Record<string, any>;

/** Runs statements in one transaction (`PgPool.transaction`). */
export interface Transaction {
  query(text: string, params?: unknown[]): Promise<Row[]>;
  /** Several statements without parameters (DDL), as one simple query. */
  exec(text: string): Promise<void>;
}

/**
 * The driver's connections to PostgreSQL: node-postgres' pool, chosen by measurement over
 * postgres.js (bench/RESULTS.md, "PostgreSQL client choice": as fast or faster on the commit
 * path, half the CPU per commit, `bytea` sent as binary). Every statement is a named prepared
 * statement, so each commit is one round trip after the first on a connection.
 */
export class PgPool {
  readonly #pool: pg.Pool;

  constructor(connectionString: string, max: number) {
    this.#pool = new pg.Pool({
      connectionString,
      max,
      application_name: "stead",
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
    });
    // An idle connection that breaks (a restarted server, a cut network) is dropped by the pool
    // and reported here; the next statement opens a new one.
    this.#pool.on("error", () => {});
  }

  /** Several statements without parameters (DDL), as one simple query, outside a transaction. */
  async exec(text: string): Promise<void> {
    await this.#pool.query(text);
  }

  /** One statement, outside any transaction. */
  async query(text: string, params: unknown[] = []): Promise<Row[]> {
    const result = await this.#pool.query({ name: statementName(text), text, values: params });
    return result.rows;
  }

  /**
   * Runs `fn` in a transaction on one connection: committed when it resolves, rolled back when
   * it rejects. `isolation` defaults to PostgreSQL's (read committed).
   */
  async transaction<T>(
    fn: (tx: Transaction) => Promise<T>,
    isolation?: "repeatable read",
  ): Promise<T> {
    const client = await this.#pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(isolation === undefined ? "BEGIN" : `BEGIN ISOLATION LEVEL ${isolation}`);
      const tx: Transaction = {
        query: async (text, params = []) =>
          (await client.query({ name: statementName(text), text, values: params })).rows,
        exec: async (text) => {
          await client.query(text);
        },
      };
      const result = await fn(tx);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollback: Error) => {
        broken = rollback;
      });
      throw error;
    } finally {
      // A connection whose rollback failed is in an unknown state: the pool closes it.
      client.release(broken);
    }
  }

  async end(): Promise<void> {
    await this.#pool.end();
  }
}

/** Prepared statements are named by their text, so one text is prepared once per connection. */
const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    name = `stead_${createHash("sha1").update(text).digest("hex").slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}
