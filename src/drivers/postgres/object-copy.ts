import { crc32 } from "node:zlib";
import { SteadError } from "../../core/errors.ts";
import type { AlarmRecord } from "../../core/storage/driver.ts";
import { storageUnavailable, withinTimeout } from "./answer-timeout.ts";
import { decodeBody } from "./log-body.ts";
import { DatabaseChecksum } from "./page-checksum.ts";
import type { PgPool } from "./pg-pool.ts";

interface CopyOwner {
  readonly pool: PgPool;
  readonly S: string;
  readonly display: string;
  readonly statementTimeoutMs: number;
}

/**
 * An object's database as PostgreSQL holds it after its last log row, built in memory: the
 * compacted pages, then each later log row in order, all read in one snapshot (repeatable
 * read), so the copy is the state of one commit however the object is written meanwhile, and
 * nothing waits for it: no claim, no lock on the object's rows. Each row is checked against its
 * checksum and the whole against the database checksum recorded with the last one.
 * Undefined when the object has no committed database.
 */
export async function snapshotDatabase(
  owner: CopyOwner,
  namespace: string,
  id: string,
): Promise<Uint8Array | undefined> {
  const S = owner.S;
  const key = [namespace, id];
  const read = owner.pool.transaction(async (tx) => {
    const [head] = await tx.query(
      `SELECT txid, page_size, db_pages, db_checksum, snap_txid FROM ${S}.objects
         WHERE namespace = $1 AND id = $2`,
      key,
    );
    if (head === undefined || Number(head.txid) === 0) return undefined;
    const pages = await tx.query(
      `SELECT pgno, data FROM ${S}.object_pages WHERE namespace = $1 AND id = $2`,
      key,
    );
    const rows = await tx.query(
      `SELECT txid, db_pages, body_checksum, body FROM ${S}.object_log
         WHERE namespace = $1 AND id = $2 AND txid > $3 AND txid <= $4 ORDER BY txid`,
      [...key, head.snap_txid, head.txid],
    );
    return { head, pages, rows };
  }, "repeatable read");
  const found = await withinTimeout(read, owner.statementTimeoutMs).catch((error: unknown) => {
    throw storageUnavailable(owner.display, error);
  });
  if (found === undefined) return undefined;
  const { head, pages, rows } = found;
  const pageSize = Number(head.page_size);
  let image = Buffer.alloc(Number(head.db_pages) * pageSize);
  // Rows may grow the database past its final size before a later one shrinks it.
  const put = (pgno: number, page: Uint8Array) => {
    const end = pgno * pageSize;
    if (end > image.length) {
      const grown = Buffer.alloc(end);
      image.copy(grown);
      image = grown;
    }
    image.set(page.subarray(0, pageSize), (pgno - 1) * pageSize);
  };
  for (const page of pages) put(Number(page.pgno), page.data as Buffer);
  for (const row of rows) {
    const body = row.body as Buffer;
    if (crc32(body) !== Number(row.body_checksum)) {
      throw corrupt(namespace, id, `log row ${row.txid} does not match its checksum`);
    }
    for (const [pgno, page] of decodeBody(body, pageSize)) put(pgno, page);
  }
  const database = image.subarray(0, Number(head.db_pages) * pageSize);
  const checksum = new DatabaseChecksum();
  for (let pgno = 1; pgno * pageSize <= database.length; pgno++) {
    checksum.set(pgno, database.subarray((pgno - 1) * pageSize, pgno * pageSize));
  }
  if (checksum.value !== Number(head.db_checksum)) {
    throw corrupt(
      namespace,
      id,
      `the database built up to log row ${head.txid} does not match the checksum recorded with it`,
    );
  }
  return database;
}

/**
 * Stores `database` as an object's compacted pages (log row 1, compacted; no history before
 * it, which starts from these pages when the object is next used), with its alarm, in one
 * transaction. Refused when the object already has a row.
 */
export async function restoreDatabase(
  owner: CopyOwner,
  namespace: string,
  id: string,
  database: Uint8Array,
  alarm: AlarmRecord | undefined,
): Promise<void> {
  const S = owner.S;
  const pageSize = pageSizeOf(database);
  if (database.length === 0 || database.length % pageSize !== 0) {
    throw new Error(
      `The database of ${namespace} ${id} is ${database.length} bytes, not a whole number of ${pageSize}-byte pages.`,
    );
  }
  const dbPages = database.length / pageSize;
  const checksum = new DatabaseChecksum();
  const numbers: number[] = [];
  const images: Buffer[] = [];
  for (let pgno = 1; pgno <= dbPages; pgno++) {
    const page = Buffer.from(database.subarray((pgno - 1) * pageSize, pgno * pageSize));
    checksum.set(pgno, page);
    numbers.push(pgno);
    images.push(page);
  }
  await owner.pool.transaction(async (tx) => {
    const created = await tx.query(
      `INSERT INTO ${S}.objects (namespace, id, epoch, txid, page_size, db_pages, db_checksum, snap_txid)
       VALUES ($1, $2, 0, 1, $3, $4, $5, 1) ON CONFLICT (namespace, id) DO NOTHING RETURNING 1`,
      [namespace, id, pageSize, dbPages, checksum.value],
    );
    if (created.length === 0) {
      throw new Error(
        `${namespace} ${id} already has a row in PostgreSQL; a restore only fills objects that have none.`,
      );
    }
    // At most 1,000 pages (4 MB at 4 KiB pages) per statement.
    for (let at = 0; at < numbers.length; at += 1000) {
      await tx.query(
        `INSERT INTO ${S}.object_pages (namespace, id, pgno, data)
         SELECT $1, $2, * FROM unnest($3::integer[], $4::bytea[])`,
        [namespace, id, numbers.slice(at, at + 1000), images.slice(at, at + 1000)],
      );
    }
    await tx.query(
      `INSERT INTO ${S}.object_history (namespace, id, base_txid) VALUES ($1, $2, NULL)
       ON CONFLICT (namespace, id) DO UPDATE SET base_txid = NULL, base_db_pages = 0, restore_txid = NULL`,
      [namespace, id],
    );
    if (alarm !== undefined) {
      await tx.query(
        `INSERT INTO ${S}.alarms (namespace, id, name, time, scheduled_time, retry_count)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (namespace, id) DO UPDATE SET name = EXCLUDED.name, time = EXCLUDED.time,
           scheduled_time = EXCLUDED.scheduled_time, retry_count = EXCLUDED.retry_count,
           claimed_by = NULL, claimed_until = NULL`,
        [namespace, id, alarm.name ?? null, alarm.time, alarm.scheduledTime, alarm.retryCount],
      );
    }
  });
}

/** The page size a SQLite database's header records (offset 16, big-endian; 1 means 65536). */
function pageSizeOf(database: Uint8Array): number {
  if (database.length < 100) return 4096;
  const size = (database[16]! << 8) | database[17]!;
  return size === 1 ? 65536 : size;
}

function corrupt(namespace: string, id: string, what: string): SteadError {
  return new SteadError(
    "OBJECT_DATABASE_CORRUPT",
    `The database of ${namespace} ${id} in PostgreSQL is damaged: ${what}. It cannot be copied.`,
  );
}
