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
 * compacted pages, then each later log row in order, all read by one statement (one snapshot),
 * so the copy is the state of one commit however the object is written or compacted meanwhile,
 * and nothing waits for it: no claim, no lock on the object's rows. Each row is checked against its
 * checksum and the whole against the database checksum recorded with the last one.
 * Undefined when the object has no committed database.
 */
export async function snapshotDatabase(
  owner: CopyOwner,
  namespace: string,
  id: string,
): Promise<Uint8Array | undefined> {
  const S = owner.S;
  // One statement, so one snapshot (every part of a statement sees the same one) and one round
  // trip: the head, the compacted pages, and the log rows after them up to the head.
  const read = owner.pool.query(
    `WITH head AS (
       SELECT txid, page_size, db_pages, db_checksum, snap_txid FROM ${S}.objects
        WHERE namespace = $1 AND id = $2 AND txid > 0)
     SELECT 0 AS part, txid AS n, page_size::bigint AS a, db_pages::bigint AS b,
            db_checksum AS c, snap_txid AS d, NULL::bytea AS data FROM head
     UNION ALL
     SELECT 1, p.pgno, NULL, NULL, NULL, NULL, p.data FROM ${S}.object_pages p
      WHERE p.namespace = $1 AND p.id = $2 AND EXISTS (SELECT 1 FROM head)
     UNION ALL
     SELECT 2, l.txid, l.db_pages, l.body_checksum, NULL, NULL, l.body
       FROM ${S}.object_log l, head h
      WHERE l.namespace = $1 AND l.id = $2 AND l.txid > h.snap_txid AND l.txid <= h.txid`,
    [namespace, id],
  );
  const parts = await withinTimeout(read, owner.statementTimeoutMs).catch((error: unknown) => {
    throw storageUnavailable(owner.display, error);
  });
  const headRow = parts.find((row) => Number(row.part) === 0);
  if (headRow === undefined) return undefined;
  const head = {
    txid: Number(headRow.n),
    page_size: Number(headRow.a),
    db_pages: Number(headRow.b),
    db_checksum: Number(headRow.c),
  };
  const pages = parts
    .filter((row) => Number(row.part) === 1)
    .map((row) => ({ pgno: Number(row.n), data: row.data as Buffer }));
  const rows = parts
    .filter((row) => Number(row.part) === 2)
    .map((row) => ({
      txid: Number(row.n),
      db_pages: Number(row.a),
      body_checksum: Number(row.b),
      body: row.data as Buffer,
    }))
    .sort((x, y) => x.txid - y.txid);
  const pageSize = Number(head.page_size);
  // As a rebuild writes the file: pages grow it, each row's size cuts it (`rebuildWorkingCopy`).
  const image = new GrowingImage(Number(head.db_pages) * pageSize);
  for (const page of pages) image.put(page.pgno, page.data, pageSize);
  for (const row of rows) {
    const body = row.body;
    if (crc32(body) !== row.body_checksum) {
      throw corrupt(namespace, id, `log row ${row.txid} does not match its checksum`);
    }
    for (const [pgno, page] of decodeBody(body, pageSize)) image.put(pgno, page, pageSize);
    image.resize(row.db_pages * pageSize);
  }
  image.resize(head.db_pages * pageSize);
  const database = image.bytes();
  const checksum = new DatabaseChecksum();
  for (let pgno = 1; pgno * pageSize <= database.length; pgno++) {
    checksum.set(pgno, database.subarray((pgno - 1) * pageSize, pgno * pageSize));
  }
  if (checksum.value !== head.db_checksum) {
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
 * it, which starts from these pages when the object is next used), with its name and alarm, in
 * one transaction. Refused when the object already has a row.
 */
export async function restoreDatabase(
  owner: CopyOwner,
  namespace: string,
  id: string,
  database: Uint8Array,
  { alarm, name }: { alarm?: AlarmRecord | undefined; name?: string | undefined },
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
      `INSERT INTO ${S}.objects (namespace, id, epoch, txid, page_size, db_pages, db_checksum, snap_txid, name)
       VALUES ($1, $2, 0, 1, $3, $4, $5, 1, $6) ON CONFLICT (namespace, id) DO NOTHING RETURNING 1`,
      [namespace, id, pageSize, dbPages, checksum.value, name ?? null],
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

/** A database image built page by page, as a file is: writes past the end grow it with zeros. */
class GrowingImage {
  #buffer: Buffer;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = Buffer.alloc(capacity);
  }

  put(pgno: number, page: Uint8Array, pageSize: number): void {
    const end = pgno * pageSize;
    if (end > this.#length) this.resize(end);
    this.#buffer.set(page.subarray(0, pageSize), end - pageSize);
  }

  /** Cuts or zero-extends the image to `length` bytes. */
  resize(length: number): void {
    if (length <= this.#length) {
      // What is cut reads as zeros if the image grows again, as a truncated file does.
      this.#buffer.fill(0, length, this.#length);
    } else if (length > this.#buffer.length) {
      const grown = Buffer.alloc(Math.max(length, this.#buffer.length * 2));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    this.#length = length;
  }

  bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }
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
