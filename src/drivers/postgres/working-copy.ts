import {
  closeSync,
  existsSync,
  ftruncateSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { crc32 } from "node:zlib";
import { withinTimeout } from "./answer-timeout.ts";
import { decodeBody } from "./log-body.ts";
import { DatabaseChecksum } from "./page-checksum.ts";
import type { PgPool } from "./pg-pool.ts";

/** The database PostgreSQL records for an object after its log row `txid`. */
export interface RecordedHead {
  txid: number;
  pageSize: number;
  dbPages: number;
  checksum: number;
}

/** Removes an object's database file and its -wal and -shm. */
export function removeDatabaseFiles(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

/**
 * The checksum of the working copy at `path` when it is the database `head` records (no WAL
 * beside it, the recorded size and checksum); undefined when it is not, or is missing.
 */
export function checkWorkingCopy(path: string, head: RecordedHead): DatabaseChecksum | undefined {
  if (!existsSync(path) || existsSync(`${path}-wal`)) return undefined;
  if (statSync(path).size !== head.pageSize * head.dbPages) return undefined;
  const checksum = DatabaseChecksum.ofFile(path, head.pageSize);
  return checksum.value === head.checksum ? checksum : undefined;
}

/**
 * Writes the database PostgreSQL holds into a new working copy at `path`: the compacted pages,
 * then each later log row in order, each checked against its checksum, then the whole against
 * the recorded database checksum. Read in one snapshot, so a compaction meanwhile cannot tear
 * it; written beside the old copy and renamed over it only once it checks. Resolves to its
 * checksum. `errors` names what is damaged, or that PostgreSQL did not answer.
 */
export async function rebuildWorkingCopy(
  owner: { readonly pool: PgPool; readonly S: string; readonly statementTimeoutMs: number },
  namespace: string,
  id: string,
  path: string,
  head: RecordedHead,
  errors: { corrupt(what: string): Error; unavailable(error: unknown): Error },
): Promise<DatabaseChecksum> {
  const S = owner.S;
  const key = [namespace, id];
  const read = owner.pool.transaction(async (tx) => {
    const [object] = await tx.query(
      `SELECT snap_txid FROM ${S}.objects WHERE namespace = $1 AND id = $2`,
      key,
    );
    const snap = Number(object!.snap_txid);
    const pages = await tx.query(
      `SELECT pgno, data FROM ${S}.object_pages WHERE namespace = $1 AND id = $2`,
      key,
    );
    const rows = await tx.query(
      `SELECT txid, db_pages, db_checksum, body_checksum, body FROM ${S}.object_log
         WHERE namespace = $1 AND id = $2 AND txid > $3 AND txid <= $4 ORDER BY txid`,
      [...key, snap, head.txid],
    );
    return { pages, rows };
  }, "repeatable read");
  const { pages, rows } = await withinTimeout(read, owner.statementTimeoutMs).catch(
    (error: unknown) => {
      throw errors.unavailable(error);
    },
  );
  const temporary = `${path}-rebuild`;
  const fd = openSync(temporary, "w", 0o600);
  try {
    const { pageSize } = head;
    for (const page of pages) {
      writeSync(fd, page.data as Buffer, 0, pageSize, (Number(page.pgno) - 1) * pageSize);
    }
    for (const row of rows) {
      const body = row.body as Buffer;
      if (crc32(body) !== Number(row.body_checksum)) {
        throw errors.corrupt(`log row ${row.txid} does not match its checksum`);
      }
      for (const [pgno, page] of decodeBody(body, pageSize)) {
        writeSync(fd, page, 0, pageSize, (pgno - 1) * pageSize);
      }
      ftruncateSync(fd, Number(row.db_pages) * pageSize);
    }
    ftruncateSync(fd, head.dbPages * pageSize);
  } finally {
    closeSync(fd);
  }
  const checksum = DatabaseChecksum.ofFile(temporary, head.pageSize);
  if (checksum.value !== head.checksum) {
    rmSync(temporary, { force: true });
    throw errors.corrupt(
      `the database rebuilt up to log row ${head.txid} does not match the checksum recorded with it`,
    );
  }
  removeDatabaseFiles(path);
  renameSync(temporary, path);
  return checksum;
}
