import { closeSync, openSync, statSync } from "node:fs";
import type { DatabaseSync } from "node:sqlite";
import { crc32 } from "node:zlib";
import { SteadError } from "../../core/errors.ts";
import type { AlarmRecord, DatabaseHandle } from "../../core/storage/driver.ts";
import type { OpenDatabase } from "../local/open-databases.ts";
import { readAt } from "../local/read-at.ts";
import { openSqliteFile } from "../local/sqlite-file.ts";
import { WalReader } from "../sqlite-wal/wal-frames.ts";
import { storageUnavailable, withinTimeout } from "./answer-timeout.ts";
import { compactObject } from "./compaction.ts";
import { pruneObject } from "./history-pruning.ts";
import { applyRestore } from "./history-restore.ts";
import { encodeBody } from "./log-body.ts";
import { type ClusterIdentity, claimObject } from "./object-claim.ts";
import { DatabaseChecksum } from "./page-checksum.ts";
import type { PgPool } from "./pg-pool.ts";
import { PostgresDatabaseHistory } from "./postgres-history.ts";
import {
  checkWorkingCopy,
  type RecordedHead,
  rebuildWorkingCopy,
  removeDatabaseFiles,
} from "./working-copy.ts";

/** What a handle needs from its driver. */
export interface PostgresHandleOwner {
  readonly pool: PgPool;
  /** The schema, quoted, ready to put in SQL. */
  readonly S: string;
  /** The URL for messages (password hidden). */
  readonly display: string;
  /** Resolves once every alarm index change made so far is in PostgreSQL. */
  flushAlarms(): Promise<void>;
  /** The cluster node this process is, when it is one: objects are claimed for it. */
  readonly cluster: ClusterIdentity | undefined;
  /** Tells the alarm index what PostgreSQL holds for an object being prepared. */
  learnAlarm(namespace: string, id: string, record: AlarmRecord | undefined): void;
  /** Creates the namespace's local directory if needed. */
  ensureDir(namespace: string): void;
  /** Call before opening a connection: the driver's cap of open databases may close others. */
  opening(handle: PostgresDatabaseHandle): void;
  /** Call when a connection closed, for whatever reason. */
  closed(handle: PostgresDatabaseHandle): void;
  /** Log rows past the snapshot after which an object is compacted. */
  readonly compactAfter: number;
  /** WAL frames after which a connection checkpoints (its frames all captured). */
  readonly checkpointAfterFrames: number;
  /** How long a statement may go unanswered before its outcome counts as unknown, ms. */
  readonly statementTimeoutMs: number;
  /** How long a replaced state stays restorable, ms; 0 keeps no history. */
  readonly historyRetentionMs: number;
  /** Epoch ms (the runtime's clock): log rows' commit times, retention. */
  now(): number;
}

/** Captured pages waiting to be appended, and the flushes that wait for them. */
interface Batch {
  pages: Map<number, Uint8Array>;
  dbPages: number;
  checksum: number;
  /** When the newest commit in it was captured, epoch ms. */
  time: number;
  done: PromiseWithResolvers<void>;
}

/**
 * One object's database with PostgreSQL as its durable home. The SQLite file under the data
 * directory is a working copy, so reads stay local and synchronous; each commit's pages are read
 * out of the WAL right after COMMIT (same turn, so nothing can write in between) and appended to
 * the object's log in PostgreSQL, in one statement that checks the object's epoch (the fencing
 * token this process got in `prepare`) and the previous log row. One append is in flight at a
 * time; commits captured meanwhile are merged into the next (pages deduplicated), so a hot
 * object's throughput does not depend on the round trip. A refused (fenced) or failed append
 * rejects the flushes waiting on it, which resets the object; the next `prepare` rebuilds the
 * working copy from PostgreSQL.
 */
export class PostgresDatabaseHandle implements DatabaseHandle, OpenDatabase {
  readonly #owner: PostgresHandleOwner;
  readonly #namespace: string;
  readonly #id: string;
  readonly #path: string;
  #onClose: (() => void) | undefined;

  /** This process's claim on the object; 0 until prepared. */
  #epoch = 0;
  /** The last log row PostgreSQL committed for the object. */
  #txid = 0;
  /** The last log row sent (in flight or committed). */
  #sentTxid = 0;
  #pageSize = 0;
  #dbPages = 0;
  /** The working copy's pages, as captured (committed locally, durable or on the way). */
  #checksum = new DatabaseChecksum();
  /** False when the working copy may differ from PostgreSQL: the next prepare rebuilds it. */
  #trusted = false;
  /** Why flushes fail until the next prepare (fenced, or an append's outcome is unknown). */
  #broken: Error | undefined;
  /** The working copy was created here: its file's own pages go with the first append. */
  #fresh = false;

  #db: DatabaseSync | undefined;
  /** The open connection's WAL, read after each commit; opened once it exists. */
  #walFd: number | undefined;
  #holds = 0;
  #reader = new WalReader();
  #pending: Batch | undefined;
  #inFlight: Promise<void> | undefined;
  #compacting = false;
  /** The log row the last compaction started from here went up to. */
  #compactedTo = 0;
  /** The log rows restores wrote, oldest first (`history-positions.ts`). */
  #generations: number[] = [];
  /** The commit time of the newest log row this process knows, epoch ms (rows never go back). */
  #lastTime = 0;
  #pruning = false;
  /** When a prune was last started from here, epoch ms. */
  #prunedAt = Number.NEGATIVE_INFINITY;

  /** The object's history, when the driver keeps one (`historyRetentionMs` above 0). */
  readonly history: PostgresDatabaseHistory | undefined;

  /** For the driver's cache of open databases (`OpenDatabases`). */
  readonly key: string;
  used = false;
  /** The connection has not flushed yet (see `OpenDatabase.used`). */
  #firstFlush = false;

  constructor(owner: PostgresHandleOwner, namespace: string, id: string, path: string) {
    this.#owner = owner;
    this.#namespace = namespace;
    this.#id = id;
    this.#path = path;
    this.key = `${namespace}/${id}`;
    this.history =
      owner.historyRetentionMs > 0
        ? new PostgresDatabaseHistory({
            S: owner.S,
            namespace,
            id,
            retentionMs: owner.historyRetentionMs,
            now: () => owner.now(),
            head: () => ({
              epoch: this.#epoch,
              txid: this.#txid,
              generations: this.#generations,
            }),
            query: (text, params) => this.#query(text, params),
          })
        : undefined;
  }

  get held(): boolean {
    return this.#holds > 0;
  }

  /** Closes the connection (the cache of open databases needs room); it reopens on next use. */
  disconnect(): void {
    this.#disconnect();
  }

  /** Registers the runtime's connection-closed callback (see `StorageDriver.openObject`). */
  set onClose(callback: (() => void) | undefined) {
    this.#onClose = callback;
  }

  get sqlite(): DatabaseSync {
    this.used = true;
    if (this.#db !== undefined) return this.#db;
    if (this.#epoch === 0) {
      throw new Error(
        `internal: ${this.#what()} was opened before prepareObject() resolved for it`,
      );
    }
    this.#owner.ensureDir(this.#namespace);
    this.#owner.opening(this);
    try {
      this.#db = openSqliteFile(this.#path, { ownSyncs: true, doubleQuotedStrings: true });
    } catch (error) {
      this.#owner.closed(this);
      throw error;
    }
    this.#reader = new WalReader();
    this.#firstFlush = true;
    return this.#db;
  }

  hold(): () => void {
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
    };
  }

  flush(): Promise<void> {
    if (this.#firstFlush) {
      // The first event on a new connection is over: only a later use counts as "used again".
      this.#firstFlush = false;
      this.used = false;
    }
    if (this.#broken !== undefined) return Promise.reject(this.#broken);
    try {
      this.#capture();
    } catch (error) {
      this.#break(error instanceof Error ? error : new Error(String(error)));
      return Promise.reject(this.#broken);
    }
    const alarms = this.#owner.flushAlarms();
    let durable: Promise<void>;
    if (this.#pending !== undefined) {
      durable = this.#pending.done.promise;
      if (this.#inFlight === undefined) this.#ship();
    } else {
      durable = this.#inFlight ?? Promise.resolve();
    }
    return Promise.all([durable, alarms]).then(() => {});
  }

  close(): void {
    this.#disconnect();
  }

  reopen(): void {
    this.#disconnect();
  }

  /**
   * Claims the object for this process (a new epoch, which fences any earlier claimant) and makes
   * the working copy match PostgreSQL: kept when it is known to, checked against the recorded
   * checksum when a file is there, rebuilt from the log otherwise. `name` is recorded in the
   * object's row when it has none (see `claimObject`).
   */
  async prepare(name?: string): Promise<void> {
    // An append still in flight decides whether what this process knows is current.
    await this.#inFlight?.catch(() => {});
    const S = this.#owner.S;
    const head = await claimObject(
      (text, params) => this.#query(text, params),
      S,
      this.#namespace,
      this.#id,
      this.#owner.cluster,
      name,
    );
    this.#owner.learnAlarm(this.#namespace, this.#id, head.alarm);
    this.#epoch = head.epoch;
    this.#generations = head.generations;
    this.#lastTime = Math.max(this.#lastTime, head.time);
    const restoreTo = head.restoreTxid;
    const known =
      restoreTo === undefined &&
      this.#trusted &&
      this.#broken === undefined &&
      this.#pending === undefined &&
      this.#txid === head.txid &&
      this.#checksum.value === head.checksum;
    if (known) {
      this.#pruneIfDue();
      return;
    }
    // What this process has locally is stale or unknown (or about to be restored): drop it,
    // shipping nothing, and trust it again only once it matches PostgreSQL.
    this.#trusted = false;
    this.#disconnect(false);
    this.#broken = undefined;
    this.#pending = undefined;
    this.#txid = head.txid;
    this.#sentTxid = head.txid;
    this.#pageSize = head.pageSize;
    this.#dbPages = head.dbPages;
    if (head.txid === 0) {
      // Nothing stored: whatever is here was never durable.
      removeDatabaseFiles(this.#path);
      this.#checksum = new DatabaseChecksum();
    } else if (!this.#matchesFile(head)) {
      await this.#rebuild(head);
    }
    if (restoreTo !== undefined) {
      const restored = await applyRestore(
        {
          pool: this.#owner.pool,
          S,
          namespace: this.#namespace,
          id: this.#id,
          statementTimeoutMs: this.#owner.statementTimeoutMs,
          path: this.#path,
          now: () => this.#owner.now(),
          corrupt: (what) => this.#corrupt(what),
          unavailable: (error) => this.#unavailable(error),
        },
        { ...head, generations: this.#generations, time: this.#lastTime },
        restoreTo,
      );
      this.#txid = restored.txid;
      this.#sentTxid = restored.txid;
      this.#dbPages = restored.dbPages;
      this.#checksum = restored.checksum;
      this.#lastTime = restored.time;
      this.#generations = [...this.#generations, restored.txid];
    }
    // An empty database (a new object, or one restored to before its first commit): the file
    // SQLite creates goes with the first append.
    this.#fresh = this.#dbPages === 0;
    this.#trusted = true;
    // A new object has nothing old enough to prune for a while: no queries for it at its start.
    if (head.txid === 0) this.#prunedAt = this.#owner.now();
    this.#pruneIfDue();
  }

  /** Waits for the append in flight, if any (driver close). */
  async settle(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight.catch(() => {});
  }

  #what(): string {
    return `object ${this.#namespace}/${this.#id}`;
  }

  /** Reads what was committed since the last capture into the pending batch. */
  #capture(): void {
    const db = this.#db;
    if (db === undefined) return;
    let batch = this.#pending;
    const take = (pgno: number, page: Uint8Array) => {
      batch ??= {
        pages: new Map(),
        dbPages: this.#dbPages,
        checksum: 0,
        time: 0,
        done: Promise.withResolvers<void>(),
      };
      batch.pages.set(pgno, page);
      this.#checksum.set(pgno, page);
    };
    if (this.#fresh) {
      // The file SQLite created before its first WAL frame (the header page): part of the state.
      this.#fresh = false;
      const file = readWhole(this.#path);
      const pageSize = pageSizeOf(file);
      if (pageSize !== undefined) {
        this.#pageSize = pageSize;
        for (let at = 0; at + pageSize <= file.length; at += pageSize) {
          take(at / pageSize + 1, file.subarray(at, at + pageSize));
        }
        this.#dbPages = Math.floor(file.length / pageSize);
      }
    }
    // The WAL stays one file while the connection is open (checkpoints truncate it in place;
    // SQLite deletes it only on close), so its descriptor is kept for the connection's life.
    this.#walFd ??= openIfExists(`${this.#path}-wal`);
    const wal = this.#walFd;
    if (wal !== undefined) {
      for (const tx of this.#reader.readCommitted((length, at) => readAt(wal, length, at))) {
        for (const [pgno, page] of tx.pages) take(pgno, page);
        this.#dbPages = tx.dbSize;
        this.#checksum.truncate(tx.dbSize);
        if (batch !== undefined) {
          for (const pgno of batch.pages.keys()) if (pgno > tx.dbSize) batch.pages.delete(pgno);
        }
      }
      this.#pageSize = this.#reader.pageSize ?? this.#pageSize;
    }
    if (batch === undefined) return;
    batch.dbPages = this.#dbPages;
    batch.checksum = this.#checksum.value;
    batch.time = this.#owner.now();
    this.#pending = batch;
    if (this.#reader.position.frame >= this.#owner.checkpointAfterFrames && this.#holds === 0) {
      // Every frame is captured: the WAL may restart (new salts, which the reader follows).
      db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
  }

  /** Appends the pending batch as the next log row. */
  #ship(): void {
    const batch = this.#pending;
    if (batch === undefined) return;
    this.#pending = undefined;
    const txid = this.#sentTxid + 1;
    this.#sentTxid = txid;
    const body = encodeBody(batch.pages, this.#pageSize);
    const time = Math.max(batch.time, this.#lastTime);
    this.#lastTime = time;
    const S = this.#owner.S;
    this.#inFlight = this.#query(
      `WITH head AS (
         UPDATE ${S}.objects SET txid = $3, db_pages = $4, db_checksum = $5, page_size = $9
         WHERE namespace = $1 AND id = $2 AND epoch = $6 AND txid = $3 - 1
         RETURNING 1),
       log AS (
         INSERT INTO ${S}.object_log (namespace, id, txid, epoch, db_pages, db_checksum, body_checksum, body, time)
         SELECT $1, $2, $3, $6, $4, $5, $7, $8, $10 FROM head
         RETURNING 1)
       SELECT count(*)::int AS committed FROM log`,
      [
        this.#namespace,
        this.#id,
        txid,
        batch.dbPages,
        batch.checksum,
        this.#epoch,
        crc32(body),
        body,
        this.#pageSize,
        time,
      ],
    )
      .then(([result]) => {
        if (Number(result!.committed) !== 1) {
          throw new SteadError(
            "OBJECT_FENCED",
            `Another process took ${this.#what()} (its epoch in PostgreSQL is past ${this.#epoch}), so this commit was refused and the object reset here. Point one process at a storage URL and schema, or run the cluster.`,
            { retryable: true, remote: true },
          );
        }
      })
      .then(
        () => {
          this.#txid = txid;
          this.#inFlight = undefined;
          batch.done.resolve();
          if (this.#pending !== undefined) this.#ship();
          this.#compactIfDue();
          this.#pruneIfDue();
        },
        (error: unknown) => {
          this.#inFlight = undefined;
          this.#break(error instanceof Error ? error : new Error(String(error)));
          batch.done.reject(this.#broken);
          throw this.#broken;
        },
      );
    // Callers observe the outcome through their batch; the chain itself must not go unhandled.
    this.#inFlight.catch(() => {});
  }

  /** Flushes fail from now until the next prepare, which rebuilds the working copy. */
  #break(error: Error): void {
    this.#broken ??= error;
    this.#trusted = false;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.done.reject(this.#broken);
    pending?.done.promise.catch(() => {});
  }

  #disconnect(shipRest = true): void {
    const db = this.#db;
    if (db === undefined) return;
    if (shipRest && this.#broken === undefined) {
      try {
        // Commits not flushed yet (none in the runtime's use; a direct caller's) go with a last append.
        this.#capture();
        if (this.#pending !== undefined && this.#inFlight === undefined) this.#ship();
      } catch (error) {
        this.#break(error instanceof Error ? error : new Error(String(error)));
      }
    }
    this.#db = undefined;
    this.#holds = 0;
    db.close();
    if (this.#walFd !== undefined) {
      closeSync(this.#walFd);
      this.#walFd = undefined;
    }
    this.#owner.closed(this);
    this.#onClose?.();
  }

  /** Whether the working copy on disk is the database PostgreSQL records (size and checksum). */
  #matchesFile(head: RecordedHead): boolean {
    const checksum = checkWorkingCopy(this.#path, head);
    if (checksum === undefined) return false;
    this.#checksum = checksum;
    return true;
  }

  async #rebuild(head: RecordedHead): Promise<void> {
    this.#owner.ensureDir(this.#namespace);
    this.#checksum = await rebuildWorkingCopy(
      this.#owner,
      this.#namespace,
      this.#id,
      this.#path,
      head,
      {
        corrupt: (what) => this.#corrupt(what),
        unavailable: (error) => this.#unavailable(error),
      },
    );
  }

  /** Folds log rows into the page table once enough have piled up (in the background). */
  #compactIfDue(): void {
    if (this.#compacting || this.#txid - this.#compactedTo < this.#owner.compactAfter) return;
    this.#compacting = true;
    this.#compactedTo = this.#txid;
    compactObject(this.#owner, this.#namespace, this.#id, this.#pageSize)
      .catch(() => {
        // A failed compaction changes nothing; the next one folds these rows too.
      })
      .finally(() => {
        this.#compacting = false;
      });
  }

  /**
   * Folds log rows older than the retention window into the base pages (in the background, in
   * passes of at most 1,024 rows until none is left), at most once per `min(retention / 10,
   * 1 hour)` of the runtime's clock per object.
   */
  #pruneIfDue(): void {
    const retentionMs = this.#owner.historyRetentionMs;
    if (retentionMs <= 0 || this.#pruning) return;
    const now = this.#owner.now();
    if (now - this.#prunedAt < Math.min(retentionMs / 10, 3_600_000)) return;
    this.#pruning = true;
    this.#prunedAt = now;
    const prune = async () => {
      // One bounded pass after another, until the log is within the window.
      while (await pruneObject(this.#owner, this.#namespace, this.#id, now - retentionMs)) {}
    };
    prune()
      .catch(() => {
        // A failed or overtaken prune changes nothing; the next one folds these rows too.
      })
      .finally(() => {
        this.#pruning = false;
      });
  }

  #corrupt(what: string): SteadError {
    return new SteadError(
      "OBJECT_DATABASE_CORRUPT",
      `Cannot open ${this.#what()} from PostgreSQL: ${what}. Other objects are unaffected; restore the object's rows from a backup of the database.`,
    );
  }

  #unavailable(error: unknown): Error {
    if (error instanceof SteadError) return error;
    return storageUnavailable(this.#owner.display, error);
  }

  #query(text: string, params: unknown[]) {
    const query = this.#owner.pool.query(text, params);
    return withinTimeout(query, this.#owner.statementTimeoutMs).catch((error: unknown) => {
      throw this.#unavailable(error);
    });
  }
}

function openIfExists(path: string): number | undefined {
  try {
    return openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

function readWhole(path: string): Buffer {
  const fd = openIfExists(path);
  if (fd === undefined) return Buffer.alloc(0);
  try {
    return readAt(fd, statSync(path).size, 0);
  } finally {
    closeSync(fd);
  }
}

/** The page size in a SQLite database header, or undefined for an empty file. */
function pageSizeOf(file: Buffer): number | undefined {
  if (file.length < 100) return undefined;
  const size = file.readUInt16BE(16);
  return size === 1 ? 65536 : size;
}
