import pg from "pg";

/** The most users `GET /low-balance` returns at once. */
export const LOW_BALANCE_LIMIT = 1000;

export type LowBalance = { userId: string; balance: number; updatedAt: number };

/**
 * Users whose balance is below `below`, lowest first, from the change feed's projection of
 * every UserCredits object's `balance` table (`"UserCredits_balance"`: `object_id` plus the
 * table's columns). `databaseUrl` is the URL the feed was given (`postgres://…?schema=NAME`,
 * default schema `stead_feed`). A connection per call, as on Cloudflare, where a connection
 * cannot outlive its request (Hyperdrive pools them there).
 */
export async function lowBalance(databaseUrl: string, below: number): Promise<LowBalance[]> {
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get("schema") ?? "stead_feed";
  url.searchParams.delete("schema");
  const client = new pg.Client({ connectionString: url.href });
  await client.connect();
  try {
    const table = `${client.escapeIdentifier(schema)}."UserCredits_balance"`;
    const result = await client.query<{ user_id: string; credits: string; updated_at: string }>(
      `SELECT user_id, credits, updated_at FROM ${table}
       WHERE credits < $1 ORDER BY credits, user_id LIMIT ${LOW_BALANCE_LIMIT}`,
      [below],
    );
    // bigint columns arrive as text: credits are far below 2^53.
    return result.rows.map((row) => ({
      userId: row.user_id,
      balance: Number(row.credits),
      updatedAt: Number(row.updated_at),
    }));
  } catch (error) {
    // The projection's table is made with the first fed commit: before any, nobody is low.
    if ((error as { code?: string }).code === "42P01") return [];
    throw error;
  } finally {
    await client.end();
  }
}
