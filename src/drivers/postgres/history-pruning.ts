import { ROW_TIME } from "./history-positions.ts";
import { decodeBody } from "./log-body.ts";
import type { PgPool } from "./pg-pool.ts";

/** Log rows folded into the base pages per pass (a bound on the memory one pass takes). */
const MAX_FOLD = 1024;

/**
 * Prunes one object's history to the retention window: folds the log rows whose states were
 * replaced before `cutoff` (epoch ms) into `object_base_pages`, moves `object_history.base_txid`
 * to the oldest state still kept, and deletes the folded rows that compaction has folded into
 * `object_pages` too (rows past `objects.snap_txid` still serve rebuilds and stay until then).
 * Never goes past a recorded restore's target. Resolves to true when rows may remain to fold
 * (a full pass, or one overtaken by another process): call again.
 *
 * Commits are never blocked: rows are read and folded without a lock, and the writes lock only
 * the object's `object_history` row, which commits do not touch. Idempotent, and safe when two
 * processes race: a prune that finds the base moved since it read it writes nothing.
 */
export async function pruneObject(
  owner: { readonly pool: PgPool; readonly S: string },
  namespace: string,
  id: string,
  cutoff: number,
): Promise<boolean> {
  const S = owner.S;
  const key = [namespace, id];
  const [object] = await owner.pool.query(
    `SELECT h.base_txid, h.restore_txid, o.page_size
     FROM ${S}.object_history h JOIN ${S}.objects o USING (namespace, id)
     WHERE h.namespace = $1 AND h.id = $2`,
    key,
  );
  if (object === undefined) return false;
  if (object.base_txid === null) {
    await startBase(owner, namespace, id);
    return true;
  }
  const base = Number(object.base_txid);
  // The rows after the base that committed before the cutoff, oldest first (a walk along the
  // primary key that stops at the window): the newest of them replaced every older state before
  // the cutoff, so its state becomes the base. Times grow with txids; a row out of order (clocks
  // of two processes) ends the walk early, which keeps more, never less.
  const times = await owner.pool.query(
    `SELECT txid, ${ROW_TIME} AS time FROM ${S}.object_log
     WHERE namespace = $1 AND id = $2 AND txid > $3 ORDER BY txid LIMIT $4`,
    [...key, base, MAX_FOLD],
  );
  if (times.length > 0 && Number(times[0]!.txid) !== base + 1) {
    // The rows after the base are gone: another prune moved the base meanwhile (look again), or
    // they are missing for good (nothing to fold).
    const [now] = await owner.pool.query(
      `SELECT base_txid FROM ${S}.object_history WHERE namespace = $1 AND id = $2`,
      key,
    );
    return now !== undefined && now.base_txid !== null && Number(now.base_txid) !== base;
  }
  let upto = base;
  for (const row of times) {
    if (Number(row.txid) !== upto + 1 || Number(row.time) >= cutoff) break;
    upto += 1;
  }
  // A recorded restore's target stays restorable until it is applied.
  if (object.restore_txid !== null) upto = Math.min(upto, Number(object.restore_txid));
  if (upto <= base) return false;
  const pageSize = Number(object.page_size);
  const rows = await owner.pool.query(
    `SELECT txid, db_pages, body FROM ${S}.object_log
     WHERE namespace = $1 AND id = $2 AND txid > $3 AND txid <= $4 ORDER BY txid`,
    [...key, base, upto],
  );
  const pages = new Map<number, Buffer>();
  let dbPages: number | undefined;
  for (const row of rows) {
    for (const [pgno, page] of decodeBody(row.body as Buffer, pageSize)) pages.set(pgno, page);
    dbPages = Number(row.db_pages);
    for (const pgno of pages.keys()) if (pgno > dbPages) pages.delete(pgno);
  }
  // Rows gone since the walk: another prune moved the base meanwhile; its transaction decides.
  if (dbPages === undefined || Number(rows[0]!.txid) !== base + 1) return true;
  const numbers = [...pages.keys()];
  return owner.pool.transaction(async (tx) => {
    const [head] = await tx.query(
      `SELECT base_txid, restore_txid FROM ${S}.object_history
       WHERE namespace = $1 AND id = $2 FOR UPDATE`,
      key,
    );
    if (head === undefined || head.base_txid === null) return false;
    // Overtaken by another prune (perhaps with an older cutoff), or a restore to a state this
    // would fold was recorded since: write nothing, and look again.
    if (Number(head.base_txid) !== base) return true;
    if (head.restore_txid !== null && Number(head.restore_txid) < upto) return true;
    await tx.query(
      `INSERT INTO ${S}.object_base_pages (namespace, id, pgno, data)
       SELECT $1, $2, p.pgno, p.data FROM unnest($3::integer[], $4::bytea[]) AS p(pgno, data)
       ON CONFLICT (namespace, id, pgno) DO UPDATE SET data = EXCLUDED.data`,
      [...key, numbers, numbers.map((n) => pages.get(n)!)],
    );
    await tx.query(
      `DELETE FROM ${S}.object_base_pages WHERE namespace = $1 AND id = $2 AND pgno > $3`,
      [...key, dbPages],
    );
    await tx.query(
      `UPDATE ${S}.object_history SET base_txid = $3, base_db_pages = $4
       WHERE namespace = $1 AND id = $2`,
      [...key, upto, dbPages],
    );
    await tx.query(
      `DELETE FROM ${S}.object_log WHERE namespace = $1 AND id = $2
         AND txid <= LEAST($3, (SELECT snap_txid FROM ${S}.objects WHERE namespace = $1 AND id = $2))`,
      [...key, upto],
    );
    return upto === base + MAX_FOLD;
  });
}

/**
 * Starts the history of an object that has none (its compacted rows were deleted: written
 * before Stead kept history on PostgreSQL, or by a process with history off): the compacted
 * pages become the base, at `snap_txid`. Read and written in one snapshot, so the pages and
 * `snap_txid` agree; a serialization failure (another process changed the row) changes nothing.
 */
async function startBase(
  owner: { readonly pool: PgPool; readonly S: string },
  namespace: string,
  id: string,
): Promise<void> {
  const S = owner.S;
  const key = [namespace, id];
  await owner.pool.transaction(async (tx) => {
    const [head] = await tx.query(
      `SELECT h.base_txid, o.snap_txid FROM ${S}.object_history h
       JOIN ${S}.objects o USING (namespace, id)
       WHERE h.namespace = $1 AND h.id = $2 FOR UPDATE OF h`,
      key,
    );
    if (head === undefined || head.base_txid !== null) return;
    await tx.query(`DELETE FROM ${S}.object_base_pages WHERE namespace = $1 AND id = $2`, key);
    const [copied] = await tx.query(
      `WITH copied AS (
         INSERT INTO ${S}.object_base_pages (namespace, id, pgno, data)
         SELECT namespace, id, pgno, data FROM ${S}.object_pages WHERE namespace = $1 AND id = $2
         RETURNING pgno)
       SELECT COALESCE(max(pgno), 0) AS db_pages FROM copied`,
      key,
    );
    await tx.query(
      `UPDATE ${S}.object_history SET base_txid = $3, base_db_pages = $4
       WHERE namespace = $1 AND id = $2`,
      [...key, Number(head.snap_txid), Number(copied!.db_pages)],
    );
  }, "repeatable read");
}
