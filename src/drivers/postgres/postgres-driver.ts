import { rmSync } from "node:fs";
import { join } from "node:path";
import { SteadError } from "../../core/errors.ts";
import type { AlarmRecord, OpenObjectOptions, StorageDriver } from "../../core/storage/driver.ts";
import { type DataDirLock, takeDataDirLock } from "../local/data-dir-lock.ts";
import { assertWritableDir } from "../local/file-errors.ts";
import { DEFAULT_HISTORY_RETENTION_MS } from "../local/local-driver.ts";
import { OpenDatabases } from "../local/open-databases.ts";
import { maxOpenDatabases, openFileLimit } from "../local/open-file-limit.ts";
import { makePrivateDir } from "../local/private-files.ts";
import { storageUnavailable } from "./answer-timeout.ts";
import { PostgresNodeRegistry } from "./node-registry.ts";
import type { ClusterIdentity } from "./object-claim.ts";
import { restoreDatabase, snapshotDatabase } from "./object-copy.ts";
import { PgPool } from "./pg-pool.ts";
import { PostgresAlarmIndex } from "./postgres-alarm-index.ts";
import { PostgresControlStore } from "./postgres-control.ts";
import { PostgresDatabaseHandle, type PostgresHandleOwner } from "./postgres-handle.ts";
import { migrateSchema } from "./schema.ts";
import { parseStorageUrl } from "./storage-url.ts";

/** Options of the PostgreSQL driver. */
export interface PostgresDriverOptions {
  /** `postgres://user:password@host:port/database?schema=NAME` (schema default `stead`). */
  url: string;
  /**
   * Where the working copies of object databases live (one SQLite file per object, as with the
   * local driver). Only a cache: deleting it loses nothing. Locked for this process.
   */
  dataDir: string;
  /** The data directory's lock, as for `LocalDriver` (omitted: the driver takes it). */
  lock?: DataDirLock | "held";
  /**
   * Object databases (working copies) open at once, as for `LocalDriver`: default 2,000, or fewer
   * under a low open-file limit. Past it, the least recently used idle ones close.
   */
  maxOpenDatabases?: number;
  /** Connections to PostgreSQL (default 10). */
  maxConnections?: number;
  /** Log rows per object after which its log is folded into its pages (default 256). */
  compactAfter?: number;
  /**
   * WAL frames after which an object's connection checkpoints its WAL (default 1,000, about 4 MB;
   * every frame is already in PostgreSQL by then, so this only bounds the local WAL).
   */
  checkpointAfterFrames?: number;
  /**
   * How long a commit or a claim may wait for PostgreSQL's answer before its outcome counts as
   * unknown and the object resets, ms (default 10,000).
   */
  statementTimeoutMs?: number;
  /** How long `connect` keeps retrying an unreachable PostgreSQL, ms (default 30,000). */
  connectTimeoutMs?: number;
  /** Told about each failed attempt to reach PostgreSQL at start, before the next one. */
  onRetry?: (error: SteadError, retryInMs: number) => void;
  /**
   * Told when alarms set through this driver are in PostgreSQL, so a scheduler in another
   * thread or process that shares the storage can look again (object threads use it).
   */
  onAlarmsShipped?: () => void;
  /**
   * The cluster node this process is: `connect` registers it in the `nodes` table (a new
   * incarnation), or joins the run `incarnation` (an object thread of the node). Objects are
   * claimed for it only when no other live node holds them (`ObjectElsewhere` otherwise), and
   * none while `serving()` is false. Omitted: a single node, which takes any object asked for.
   */
  cluster?: {
    node: string;
    /** Where other nodes reach it (host:port). */
    address: string;
    leaseMs: number;
    serving(): boolean;
    incarnation?: number;
  };
  /**
   * How long a replaced state of an object's database stays restorable (point-in-time
   * recovery), ms. Default 30 days, as on Cloudflare; 0 keeps no history.
   */
  historyRetentionMs?: number;
  /** Epoch ms, for log rows' commit times and retention (default `Date.now`). */
  now?: () => number;
}

const OBJECT_ID = /^[0-9a-f]{64}$/;
/** Past this many ids, `objectNames` reads the namespace's names instead of looking ids up. */
const NAMES_BY_ID = 1_000;

/**
 * Objects durable in PostgreSQL: each object's SQLite file under `dataDir` is its working copy
 * (reads are local and synchronous) and every commit is appended to the object's log in
 * PostgreSQL before the output gate opens (`PostgresDatabaseHandle`). Namespaces, applied
 * migrations and alarms live in PostgreSQL tables too (`PostgresAlarmIndex`), shared by every
 * process and object thread on the same storage URL and schema.
 * Tables are created and upgraded at `connect` (`migrateSchema`). See docs/postgres.md.
 *
 * @example
 * // Usually through createRuntime({ storage: "postgres://…", dataDir }); directly:
 * const driver = await PostgresDriver.connect({
 *   url: "postgres://stead@127.0.0.1:5432/app?schema=stead",
 *   dataDir: "/var/lib/app",
 * });
 * await using rt = await createRuntime({ main: "./worker.ts", driver });
 */
export class PostgresDriver implements StorageDriver {
  readonly dataDir: string;
  readonly alarms: PostgresAlarmIndex;
  readonly control: PostgresControlStore;
  /** The cluster's nodes, when this process is a cluster node (`cluster` option). */
  readonly cluster: PostgresNodeRegistry | undefined;
  readonly #pool: PgPool;
  readonly #heartbeats: PgPool | undefined;
  readonly #owner: PostgresHandleOwner;
  readonly #handles = new Map<string, PostgresDatabaseHandle>();
  readonly #ownLock: DataDirLock | undefined;
  #closed = false;

  private constructor(
    dataDir: string,
    pool: PgPool,
    owner: PostgresHandleOwner,
    control: PostgresControlStore,
    alarms: PostgresAlarmIndex,
    ownLock: DataDirLock | undefined,
    cluster: { registry: PostgresNodeRegistry | undefined; heartbeats: PgPool | undefined },
  ) {
    this.cluster = cluster.registry;
    this.#heartbeats = cluster.heartbeats;
    this.dataDir = dataDir;
    this.#pool = pool;
    this.#owner = owner;
    this.control = control;
    this.alarms = alarms;
    this.#ownLock = ownLock;
  }

  /**
   * Connects, creating or upgrading Stead's tables. While PostgreSQL cannot be reached it
   * retries with backoff (0.25 s doubling to 5 s) for `connectTimeoutMs`, then throws
   * `STORAGE_UNAVAILABLE` naming the URL (password hidden).
   */
  static async connect(options: PostgresDriverOptions): Promise<PostgresDriver> {
    const url = parseStorageUrl(options.url);
    const compactAfter = options.compactAfter ?? 256;
    if (!Number.isInteger(compactAfter) || compactAfter < 1) {
      throw new RangeError(
        `PostgresDriver compactAfter must be a positive integer, got ${String(options.compactAfter)}.`,
      );
    }
    const historyRetentionMs = options.historyRetentionMs ?? DEFAULT_HISTORY_RETENTION_MS;
    if (!(historyRetentionMs >= 0)) {
      throw new RangeError(
        `PostgresDriver historyRetentionMs must be 0 or more, got ${String(options.historyRetentionMs)}.`,
      );
    }
    makePrivateDir(options.dataDir);
    assertWritableDir(options.dataDir, options.dataDir);
    const ownLock = takeDataDirLock(options.dataDir, options.lock);
    const open = new OpenDatabases<PostgresDatabaseHandle>(
      maxOpenDatabases(options.maxOpenDatabases, openFileLimit()),
    );
    const pool = new PgPool(url.connect, options.maxConnections ?? 10);
    let heartbeats: PgPool | undefined;
    const S = `"${url.schema}"`;
    try {
      await withRetries(
        () => migrateSchema(pool, url.schema),
        url.display,
        options.connectTimeoutMs ?? 30_000,
        options.onRetry,
      );
      const control = await PostgresControlStore.load(pool, S);
      const timeoutMs = options.statementTimeoutMs ?? 10_000;
      const alarms = await PostgresAlarmIndex.load(pool, S, timeoutMs, options.onAlarmsShipped);
      // Lease renewals get a connection of their own, never queued behind commits.
      if (options.cluster !== undefined && options.cluster.incarnation === undefined) {
        heartbeats = new PgPool(url.connect, 1);
      }
      const registry =
        options.cluster === undefined
          ? undefined
          : await PostgresNodeRegistry.join(heartbeats ?? pool, S, options.cluster, timeoutMs);
      const cluster: ClusterIdentity | undefined =
        registry === undefined
          ? undefined
          : {
              node: registry.node,
              incarnation: registry.incarnation,
              leaseMs: options.cluster!.leaseMs,
              serving: options.cluster!.serving,
            };
      const owner: PostgresHandleOwner = {
        pool,
        S,
        display: url.display,
        compactAfter,
        checkpointAfterFrames: options.checkpointAfterFrames ?? 1_000,
        statementTimeoutMs: timeoutMs,
        cluster,
        historyRetentionMs,
        now: options.now ?? Date.now,
        flushAlarms: () => alarms.flush(),
        learnAlarm: (namespace, id, record) => alarms.learn(namespace, id, record),
        ensureDir: (namespace) => makePrivateDir(join(options.dataDir, namespace)),
        opening: (handle) => open.opening(handle),
        closed: (handle) => open.closed(handle),
      };
      return new PostgresDriver(options.dataDir, pool, owner, control, alarms, ownLock, {
        registry,
        heartbeats,
      });
    } catch (error) {
      await pool.end().catch(() => {});
      await heartbeats?.end().catch(() => {});
      ownLock?.release();
      if (error instanceof SteadError) throw error;
      throw storageUnavailable(url.display, error);
    }
  }

  /** The name is recorded by `prepareObject`'s claim, which comes first. */
  openObject(namespace: string, id: string, options?: OpenObjectOptions): PostgresDatabaseHandle {
    const handle = this.#handle(namespace, id);
    handle.onClose = options?.onClose;
    return handle;
  }

  /** Claims the object; the claim records `name` in its row when the row has none yet. */
  prepareObject(namespace: string, id: string, name?: string): Promise<void> {
    return this.#handle(namespace, id).prepare(name);
  }

  async listObjects(namespace: string): Promise<string[]> {
    // Deleted here already; the rows go with the next control commit.
    if (this.control.deleting(namespace)) return [];
    const rows = await this.#pool.query(
      `SELECT id FROM ${this.#owner.S}.objects WHERE namespace = $1 AND txid > 0`,
      [namespace],
    );
    return rows.map((row) => row.id as string);
  }

  async objectNames(namespace: string, ids: readonly string[]): Promise<Map<string, string>> {
    if (this.control.deleting(namespace) || ids.length === 0) return new Map();
    const S = this.#owner.S;
    if (ids.length > NAMES_BY_ID) {
      // Most of a namespace (a prefix filter reads them all): one pass over its rows.
      const wanted = new Set(ids);
      const rows = await this.#pool.query(
        `SELECT id, name FROM ${S}.objects WHERE namespace = $1 AND name IS NOT NULL`,
        [namespace],
      );
      return new Map(
        rows
          .filter((row) => wanted.has(row.id as string))
          .map((row) => [row.id as string, row.name as string]),
      );
    }
    const rows = await this.#pool.query(
      `SELECT id, name FROM ${S}.objects
       WHERE namespace = $1 AND id = ANY($2::text[]) AND name IS NOT NULL`,
      [namespace, ids],
    );
    return new Map(rows.map((row) => [row.id as string, row.name as string]));
  }

  async hasObject(namespace: string, id: string): Promise<boolean> {
    if (this.control.deleting(namespace)) return false;
    const rows = await this.#pool.query(
      `SELECT 1 FROM ${this.#owner.S}.objects WHERE namespace = $1 AND id = $2 AND txid > 0`,
      [namespace, id],
    );
    return rows.length > 0;
  }

  /**
   * Read from PostgreSQL in one snapshot (`snapshotDatabase`): whichever process or cluster
   * node holds the object, its last shipped commit, and the object never waits.
   */
  snapshotObject(namespace: string, id: string): Promise<Uint8Array | undefined> {
    return snapshotDatabase(this.#owner, namespace, id);
  }

  restoreObject(
    namespace: string,
    id: string,
    database: Uint8Array,
    options: { alarm?: AlarmRecord | undefined; name?: string | undefined },
  ): Promise<void> {
    if (!OBJECT_ID.test(id)) throw new Error(`internal: not an object id: ${id}`);
    return restoreDatabase(this.#owner, namespace, id, database, options);
  }

  deleteNamespace(namespace: string): void {
    for (const [key, handle] of this.#handles) {
      if (key.startsWith(`${namespace}/`)) {
        handle.close();
        this.#handles.delete(key);
      }
    }
    rmSync(join(this.dataDir, namespace), { recursive: true, force: true });
    this.alarms.deleteNamespace(namespace);
    this.control.deleteWithNextCommit(namespace);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const handle of this.#handles.values()) handle.close();
    await Promise.all([...this.#handles.values()].map((handle) => handle.settle()));
    await this.alarms.close();
    await this.#pool.end();
    await this.#heartbeats?.end();
    this.#ownLock?.release();
  }

  #handle(namespace: string, id: string): PostgresDatabaseHandle {
    if (this.#closed) throw new Error("internal: the PostgreSQL driver is closed");
    if (!OBJECT_ID.test(id)) throw new Error(`internal: not an object id: ${id}`);
    const key = `${namespace}/${id}`;
    let handle = this.#handles.get(key);
    if (handle === undefined) {
      handle = new PostgresDatabaseHandle(
        this.#owner,
        namespace,
        id,
        join(this.dataDir, namespace, `${id}.sqlite`),
      );
      this.#handles.set(key, handle);
    }
    return handle;
  }
}

/** Runs `attempt` until it succeeds, retrying failures to reach PostgreSQL with backoff. */
async function withRetries<T>(
  attempt: () => Promise<T>,
  display: string,
  timeoutMs: number,
  onRetry: PostgresDriverOptions["onRetry"],
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      const failure = storageUnavailable(display, error);
      if (Date.now() + delay > deadline) throw failure;
      onRetry?.(failure, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** Errors that mean PostgreSQL was not reached (worth retrying), not that it refused the SQL. */
function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return (
    [
      "ECONNREFUSED",
      "ECONNRESET",
      "ETIMEDOUT",
      "ENOTFOUND",
      "EAI_AGAIN",
      "CONNECT_TIMEOUT",
      "CONNECTION_CLOSED",
      "CONNECTION_ENDED",
      "CONNECTION_DESTROYED",
    ].includes(code) || code === "57P03" // the database system is starting up
  );
}
