import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { crc32 } from "node:zlib";
import { SteadError } from "../../core/errors.ts";
import { withinTimeout } from "./answer-timeout.ts";
import { decodeBody, encodeBody } from "./log-body.ts";
import { DatabaseChecksum } from "./page-checksum.ts";
import type { PgPool } from "./pg-pool.ts";

/** A database as pages: its size in pages and the image of each page. */
export interface PageImage {
  dbPages: number;
  pages: Map<number, Buffer>;
}

/** What a restore needs from the handle that applies it. */
export interface RestoreHost {
  readonly pool: PgPool;
  readonly S: string;
  readonly namespace: string;
  readonly id: string;
  readonly statementTimeoutMs: number;
  /** The working copy's path; it holds the database at `head.txid`. */
  readonly path: string;
  /** Epoch ms, the commit time of the restore's log row. */
  now(): number;
  /** "Cannot open the object": a row that fails its checksum. */
  corrupt(what: string): Error;
  /** A PostgreSQL failure as the driver reports it (STORAGE_UNAVAILABLE). */
  unavailable(error: unknown): Error;
}

/** The object's head in PostgreSQL, as the handle's claim saw it. */
export interface RestoreHead {
  epoch: number;
  txid: number;
  pageSize: number;
  generations: readonly number[];
  /** The newest row's commit time, so the restore's row does not sort before it. */
  time: number;
}

/**
 * Applies a recorded restore (`object_history.restore_txid`) as the object's next committed
 * state: builds the database at `target` (the base pages, then the log rows up to it), and in
 * one PostgreSQL transaction, fenced by the epoch like every commit, appends a log row holding
 * the pages that differ from the current state, moves the head, starts a new generation and
 * clears the request. Only then is the working copy replaced (a new file renamed over it). A
 * crash before the transaction commits leaves the old state and the request (applied again on
 * the next start); after it, the restored state, which the next start rebuilds from PostgreSQL.
 */
export async function applyRestore(
  host: RestoreHost,
  head: RestoreHead,
  target: number,
): Promise<{ txid: number; dbPages: number; checksum: DatabaseChecksum; time: number }> {
  const image = await readStateAt(host, target, head.pageSize);
  const current = readWorkingCopy(host.path, head.pageSize);
  const changed = new Map<number, Buffer>();
  for (let pgno = 1; pgno <= image.dbPages; pgno++) {
    const page = image.pages.get(pgno) ?? Buffer.alloc(head.pageSize);
    const old = current.pages.get(pgno);
    if (old === undefined || !old.equals(page)) changed.set(pgno, page);
  }
  const checksum = new DatabaseChecksum();
  for (let pgno = 1; pgno <= image.dbPages; pgno++) {
    checksum.set(pgno, image.pages.get(pgno) ?? Buffer.alloc(head.pageSize));
  }
  const txid = head.txid + 1;
  const time = Math.max(host.now(), head.time);
  const body = encodeBody(changed, head.pageSize);
  const S = host.S;
  const key = [host.namespace, host.id];
  const commit = host.pool.transaction(async (tx) => {
    const moved = await tx.query(
      `UPDATE ${S}.objects SET txid = $3, db_pages = $4, db_checksum = $5
       WHERE namespace = $1 AND id = $2 AND epoch = $6 AND txid = $3 - 1 RETURNING 1`,
      [...key, txid, image.dbPages, checksum.value, head.epoch],
    );
    if (moved.length !== 1) {
      throw new SteadError(
        "OBJECT_FENCED",
        `Another process took object ${key.join("/")} while this one was restoring it to a bookmark, so the restore was left to that process. Point one process at a storage URL and schema, or run the cluster.`,
        { retryable: true, remote: true },
      );
    }
    await tx.query(
      `INSERT INTO ${S}.object_log (namespace, id, txid, epoch, db_pages, db_checksum, body_checksum, body, time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [...key, txid, head.epoch, image.dbPages, checksum.value, crc32(body), body, time],
    );
    await tx.query(
      `UPDATE ${S}.object_history SET restore_txid = NULL, generations = generations || $3::bigint
       WHERE namespace = $1 AND id = $2`,
      [...key, txid],
    );
  });
  await withinTimeout(commit, host.statementTimeoutMs).catch((error: unknown) => {
    throw host.unavailable(error);
  });
  writeWorkingCopy(host.path, image, head.pageSize);
  return { txid, dbPages: image.dbPages, checksum, time };
}

/**
 * The database after log row `target`: the base pages and the rows after them up to `target`,
 * read in one snapshot (a prune meanwhile moves both together), each row checked against its
 * checksum. Throws when `target` is no longer kept.
 */
async function readStateAt(host: RestoreHost, target: number, pageSize: number) {
  const S = host.S;
  const key = [host.namespace, host.id];
  const read = host.pool.transaction(async (tx) => {
    const [history] = await tx.query(
      `SELECT base_txid, base_db_pages FROM ${S}.object_history WHERE namespace = $1 AND id = $2`,
      key,
    );
    const base = history?.base_txid === null || history === undefined ? undefined : history;
    if (base === undefined || Number(base.base_txid) > target) return undefined;
    const pages = await tx.query(
      `SELECT pgno, data FROM ${S}.object_base_pages WHERE namespace = $1 AND id = $2`,
      key,
    );
    const rows = await tx.query(
      `SELECT txid, db_pages, body_checksum, body FROM ${S}.object_log
       WHERE namespace = $1 AND id = $2 AND txid > $3 AND txid <= $4 ORDER BY txid`,
      [...key, Number(base.base_txid), target],
    );
    return { dbPages: Number(base.base_db_pages), pages, rows };
  }, "repeatable read");
  const state = await withinTimeout(read, host.statementTimeoutMs).catch((error: unknown) => {
    throw host.unavailable(error);
  });
  if (state === undefined) {
    // Dropped (a process with history off compacted the rows away), so the object starts again.
    await withinTimeout(
      host.pool.query(
        `UPDATE ${S}.object_history SET restore_txid = NULL
         WHERE namespace = $1 AND id = $2 AND restore_txid = $3`,
        [...key, target],
      ),
      host.statementTimeoutMs,
    ).catch((error: unknown) => {
      throw host.unavailable(error);
    });
    throw new SteadError(
      "BOOKMARK_EXPIRED",
      `The state object ${key.join("/")} was to be restored to (log row ${target}) is no longer kept, so the restore was dropped and the object starts as it was on its next event. Keep history longer (historyRetentionDays / STEAD_HISTORY_RETENTION_DAYS), the same in every process on this schema.`,
      { remote: true },
    );
  }
  const image: PageImage = { dbPages: state.dbPages, pages: new Map() };
  for (const page of state.pages) image.pages.set(Number(page.pgno), page.data as Buffer);
  for (const row of state.rows) {
    const body = row.body as Buffer;
    if (crc32(body) !== Number(row.body_checksum)) {
      throw host.corrupt(`log row ${row.txid} does not match its checksum`);
    }
    for (const [pgno, page] of decodeBody(body, pageSize)) image.pages.set(pgno, page);
    image.dbPages = Number(row.db_pages);
    for (const pgno of image.pages.keys()) if (pgno > image.dbPages) image.pages.delete(pgno);
  }
  return image;
}

/** The working copy as pages (closed, with no WAL: the handle checked it against the head). */
function readWorkingCopy(path: string, pageSize: number): PageImage {
  // A page size of 0: the object never committed, so there is no working copy to compare.
  const file = pageSize > 0 && existsSync(path) ? readFileSync(path) : Buffer.alloc(0);
  if (file.length === 0) return { dbPages: 0, pages: new Map() };
  const image: PageImage = { dbPages: Math.floor(file.length / pageSize), pages: new Map() };
  for (let pgno = 1; pgno <= image.dbPages; pgno++) {
    image.pages.set(pgno, file.subarray((pgno - 1) * pageSize, pgno * pageSize));
  }
  return image;
}

/** Replaces the working copy with `image`: a new file, renamed over the old one. */
function writeWorkingCopy(path: string, image: PageImage, pageSize: number): void {
  const temporary = `${path}-restoring`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    for (const [pgno, page] of image.pages) writeSync(fd, page, 0, pageSize, (pgno - 1) * pageSize);
    ftruncateSync(fd, image.dbPages * pageSize);
  } finally {
    closeSync(fd);
  }
  for (const suffix of ["-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  renameSync(temporary, path);
}
