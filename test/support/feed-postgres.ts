// A fresh PostgreSQL schema for a change feed's projection, dropped when disposed.
import { randomBytes } from "node:crypto";
import pg from "pg";

/** The database the feed tests project into (trust auth on the local PostgreSQL). */
export const FEED_POSTGRES =
  process.env.STEAD_TEST_FEED_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface FeedSchema extends AsyncDisposable {
  /** The schema's name. */
  schema: string;
  /** The sink URL (`?schema=`). */
  url: string;
  /** Runs a query on the schema's database. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export async function feedSchema(): Promise<FeedSchema> {
  const schema = `feed_${randomBytes(6).toString("hex")}`;
  const pool = new pg.Pool({ connectionString: FEED_POSTGRES, max: 2 });
  const url = new URL(FEED_POSTGRES);
  url.searchParams.set("schema", schema);
  return {
    schema,
    url: url.href,
    query: async (text, params) => (await pool.query(text, params)).rows,
    async [Symbol.asyncDispose]() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await pool.end();
    },
  };
}
