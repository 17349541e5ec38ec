import { decodeBody } from "./log-body.ts";
import type { PostgresHandleOwner } from "./postgres-handle.ts";

/**
 * Folds the object's log rows after its snapshot into `object_pages` (the last image of each
 * page) and drops pages past the database's end. The folded rows are deleted when no history is
 * kept; with history, rows stay for the retention window, and only those a prune has already
 * folded into the base pages go (`history-pruning.ts`). The rows are read and folded without a
 * lock; only the writes take the object's head row, briefly. Idempotent, and a compaction
 * overtaken by another writes nothing.
 */
export async function compactObject(
  owner: Pick<PostgresHandleOwner, "pool" | "S" | "historyRetentionMs">,
  namespace: string,
  id: string,
  pageSize: number,
): Promise<void> {
  const S = owner.S;
  const key = [namespace, id];
  const [object] = await owner.pool.query(
    `SELECT snap_txid FROM ${S}.objects WHERE namespace = $1 AND id = $2`,
    key,
  );
  if (object === undefined) return;
  // Read and fold the rows without a lock, so appends go on meanwhile.
  const rows = await owner.pool.query(
    `SELECT txid, db_pages, body FROM ${S}.object_log
     WHERE namespace = $1 AND id = $2 AND txid > $3 ORDER BY txid`,
    [...key, Number(object.snap_txid)],
  );
  if (rows.length === 0) return;
  const pages = new Map<number, Buffer>();
  let dbPages = 0;
  for (const row of rows) {
    for (const [pgno, page] of decodeBody(row.body as Buffer, pageSize)) pages.set(pgno, page);
    dbPages = Number(row.db_pages);
    for (const pgno of pages.keys()) if (pgno > dbPages) pages.delete(pgno);
  }
  const upto = Number(rows[rows.length - 1]!.txid);
  const numbers = [...pages.keys()];
  await owner.pool.transaction(async (tx) => {
    // The head's lock orders compactions of one object: one that another has overtaken (its
    // snapshot is already at or past these rows) writes nothing, so pages never go back.
    const [head] = await tx.query(
      `SELECT snap_txid FROM ${S}.objects WHERE namespace = $1 AND id = $2 FOR UPDATE`,
      key,
    );
    if (head === undefined || Number(head.snap_txid) >= upto) return;
    await tx.query(
      `INSERT INTO ${S}.object_pages (namespace, id, pgno, data)
       SELECT $1, $2, p.pgno, p.data FROM unnest($3::integer[], $4::bytea[]) AS p(pgno, data)
       ON CONFLICT (namespace, id, pgno) DO UPDATE SET data = EXCLUDED.data`,
      [...key, numbers, numbers.map((n) => pages.get(n)!)],
    );
    await tx.query(`DELETE FROM ${S}.object_pages WHERE namespace = $1 AND id = $2 AND pgno > $3`, [
      ...key,
      dbPages,
    ]);
    await tx.query(`UPDATE ${S}.objects SET snap_txid = $3 WHERE namespace = $1 AND id = $2`, [
      ...key,
      upto,
    ]);
    if (owner.historyRetentionMs > 0) {
      await tx.query(
        `DELETE FROM ${S}.object_log WHERE namespace = $1 AND id = $2
           AND txid <= LEAST($3, (SELECT COALESCE(base_txid, -1) FROM ${S}.object_history
                                  WHERE namespace = $1 AND id = $2))`,
        [...key, upto],
      );
      return;
    }
    await tx.query(`DELETE FROM ${S}.object_log WHERE namespace = $1 AND id = $2 AND txid <= $3`, [
      ...key,
      upto,
    ]);
    // No history kept: the base and its rows are gone, so the object has none from here.
    const dropped = await tx.query(
      `UPDATE ${S}.object_history SET base_txid = NULL, base_db_pages = 0, restore_txid = NULL
       WHERE namespace = $1 AND id = $2 AND base_txid IS NOT NULL RETURNING 1`,
      key,
    );
    if (dropped.length > 0) {
      await tx.query(`DELETE FROM ${S}.object_base_pages WHERE namespace = $1 AND id = $2`, key);
    }
  });
}
