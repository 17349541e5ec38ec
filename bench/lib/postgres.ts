// Stead+PG's side of the harness: a fresh PostgreSQL schema per server start (dropped when the
// server stops), and what PostgreSQL did during a measured window: WAL bytes written (cluster
// wide, and the schema's own share when pg_waldump can read the WAL), log rows Stead appended,
// and the CPU time of the server's own PostgreSQL backends. All queries run from this process,
// never from the server under test.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import { createInterface } from "node:readline";
import postgres, { type Sql } from "postgres";
import { cpuSeconds, isAlive, which } from "./processes.ts";

/** The local PostgreSQL the tests use (scripts/ensure-postgres.sh); `--storage <url>` overrides. */
export const DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** Marks a schema as this harness's, with the owner's process id (see `removeStaleSchemas`). */
const COMMENT_PREFIX = "stead bench harness, pid ";

/** PostgreSQL's settings that decide what a commit costs, for the record. */
export interface PostgresInfo {
  /** The URL without the password. */
  url: string;
  version: string;
  fsync: string;
  synchronousCommit: string;
  fullPageWrites: string;
  walCompression: string;
  /** How the schema's own WAL is read ("pg_waldump <path> on <dir>"), or why it is not. */
  walAttribution: string;
}

/** PostgreSQL at one instant, as `PostgresProbe.snapshot` read it. */
export interface PostgresSnapshot {
  /** pg_current_wal_lsn() */
  lsn: string;
  /** Log rows Stead has appended in this schema so far: sum(txid) over its objects. */
  logRows: number;
  /** CPU seconds of the server's backends (by process id) when the snapshot was taken. */
  backendCpu: Map<number, number>;
}

/** What PostgreSQL did between two snapshots. */
export interface PostgresWindow {
  /** pg_wal_lsn_diff(after, before): WAL bytes of the whole cluster, not only Stead's. */
  walBytes: number;
  /** Log rows (PostgreSQL commits of object batches) Stead appended. */
  logRows: number;
  /** CPU seconds the server's PostgreSQL backends used (undefined: none were found). */
  backendCpuSeconds: number | undefined;
  /**
   * The schema's own WAL bytes (records on its tables, indexes and TOAST, and the rest of the
   * transactions that wrote them, commits included), read with pg_waldump; undefined when the
   * WAL could not be read (`walAttribution` says why).
   */
  schemaWalBytes?: number;
}

let admin: Sql | undefined;
let adminUrl: string | undefined;
/** pg_waldump and the WAL directory, when this process can read them. */
let waldump: { binary: string; walDir: string } | undefined;

/** The harness's own connection (one), opened on first use. */
function connection(url: string): Sql {
  if (admin !== undefined && adminUrl !== url) {
    throw new Error("internal: one PostgreSQL URL per run");
  }
  adminUrl = url;
  admin ??= postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  return admin;
}

/** Closes the harness's connection, if it was opened. */
export async function closePostgres(): Promise<void> {
  await admin?.end({ timeout: 5 });
  admin = undefined;
}

/** Checks the URL, and that PostgreSQL answers; returns the settings that matter for commits. */
export async function describePostgres(url: string): Promise<PostgresInfo> {
  const parsed = new URL(url);
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new Error(`--storage takes "postgres" or a postgres:// URL, got "${url}"`);
  }
  if (parsed.searchParams.has("schema")) {
    throw new Error("--storage: leave ?schema= out; the harness makes a fresh schema per server");
  }
  if (parsed.password !== "") parsed.password = "***";
  const sql = connection(url);
  let rows: Array<Record<string, string>>;
  try {
    rows = await sql.unsafe(
      `SELECT current_setting('server_version') AS version, current_setting('fsync') AS fsync,
              current_setting('synchronous_commit') AS synchronous_commit,
              current_setting('full_page_writes') AS full_page_writes,
              current_setting('wal_compression') AS wal_compression,
              current_setting('server_version_num') AS version_num,
              current_setting('data_directory') AS data_directory`,
    );
  } catch (error) {
    throw new Error(
      `PostgreSQL at ${parsed.href} does not answer (${(error as Error).message}); start it with bash scripts/ensure-postgres.sh`,
    );
  }
  const row = rows[0]!;
  const walAttribution = findWaldump(parsed.hostname, row.version_num!, row.data_directory!);
  return {
    url: parsed.href,
    version: row.version!,
    fsync: row.fsync!,
    synchronousCommit: row.synchronous_commit!,
    fullPageWrites: row.full_page_writes!,
    walCompression: row.wal_compression!,
    walAttribution,
  };
}

/**
 * Finds pg_waldump of the server's major version and checks the WAL directory can be read
 * (PostgreSQL on this machine, and this process root or the postgres user); says how or why not.
 */
function findWaldump(host: string, versionNum: string, dataDir: string): string {
  if (!["127.0.0.1", "localhost", "[::1]"].includes(host)) {
    return "not read: PostgreSQL is not on this machine";
  }
  const major = Math.floor(Number(versionNum) / 10_000);
  const binary = [
    `/usr/lib/postgresql/${major}/bin/pg_waldump`,
    `/usr/pgsql-${major}/bin/pg_waldump`,
  ]
    .concat(which("pg_waldump") ?? [])
    .find((path) => existsSync(path));
  if (binary === undefined) return `not read: no pg_waldump for PostgreSQL ${major}`;
  const walDir = `${dataDir}/pg_wal`;
  try {
    accessSync(walDir, constants.R_OK | constants.X_OK);
  } catch {
    return `not read: ${walDir} is not readable by this process`;
  }
  waldump = { binary, walDir };
  return `pg_waldump (${binary}) on ${walDir}`;
}

/**
 * Sums the WAL records in [start, end) that touch one of `relations` ("spc/db/relfilenode"),
 * and every record of the transactions that wrote one (their commit records too).
 */
async function schemaWal(start: string, end: string, relations: Set<string>): Promise<number> {
  if (waldump === undefined) throw new Error("internal: no pg_waldump");
  const child = spawn(waldump.binary, ["-p", waldump.walDir, "-s", start, "-e", end], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  // A transaction's records (whose sizes are kept until it is known to be the schema's).
  const pending = new Map<string, number>();
  const ours = new Set<string>();
  let bytes = 0;
  const record = /len \(rec\/tot\):\s*\d+\/\s*(\d+), tx:\s*(\d+),/;
  const relation = /rel (\d+\/\d+\/\d+)/g;
  for await (const line of createInterface({ input: child.stdout })) {
    const match = record.exec(line);
    if (match === null) continue;
    const size = Number(match[1]);
    const xid = match[2]!;
    const touches = [...line.matchAll(relation)].some((m) => relations.has(m[1]!));
    if (touches) {
      bytes += size;
      if (xid !== "0" && !ours.has(xid)) {
        ours.add(xid);
        bytes += pending.get(xid) ?? 0;
        pending.delete(xid);
      }
    } else if (ours.has(xid)) {
      bytes += size;
    } else if (xid !== "0") {
      pending.set(xid, (pending.get(xid) ?? 0) + size);
    }
  }
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  // pg_waldump ends with an error at the end of the WAL written so far; anything else is real.
  if (code !== 0 && !/invalid record length|end of WAL/i.test(stderr)) {
    throw new Error(`pg_waldump failed: ${stderr.trim().split("\n")[0]}`);
  }
  return bytes;
}

/** A schema for one Stead+PG server, and how to read what PostgreSQL did for it. */
export interface PostgresProbe {
  readonly schema: string;
  /** The server's `--storage` URL: the base URL with `?schema=<schema>&application_name=...`. */
  readonly storageUrl: string;
  /** The `application_name` of the server's connections, by which its backends are found. */
  readonly applicationName: string;
  snapshot(): Promise<PostgresSnapshot>;
  /** What happened since `before` (a snapshot of this probe). */
  since(before: PostgresSnapshot): Promise<PostgresWindow>;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/**
 * Creates `bench_<random>` (marked with this process's id, so a later run can drop it if this
 * one is killed before it can) and returns its probe. The server creates its tables in it.
 */
export async function createSchema(url: string): Promise<PostgresProbe> {
  const sql = connection(url);
  const schema = `bench_${randomBytes(6).toString("hex")}`;
  const applicationName = `stead-${schema}`;
  await sql.unsafe(`CREATE SCHEMA ${schema}`);
  await sql.unsafe(`COMMENT ON SCHEMA ${schema} IS '${COMMENT_PREFIX}${process.pid}'`);
  const storageUrl = new URL(url);
  storageUrl.searchParams.set("schema", schema);
  // Stead passes the URL's other parameters to the client, which sends this one to PostgreSQL.
  storageUrl.searchParams.set("application_name", applicationName);
  const snapshot = async (): Promise<PostgresSnapshot> => {
    const [row] = await sql.unsafe(
      `SELECT pg_current_wal_lsn()::text AS lsn,
              (SELECT coalesce(sum(txid), 0)::text FROM ${schema}.objects) AS log_rows,
              (SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity
                WHERE application_name = $1) AS pids`,
      [applicationName],
    );
    const backendCpu = new Map<number, number>();
    for (const pid of row!.pids as number[]) {
      const seconds = cpuSeconds(pid);
      if (seconds !== undefined) backendCpu.set(pid, seconds);
    }
    return { lsn: row!.lsn as string, logRows: Number(row!.log_rows), backendCpu };
  };
  return {
    schema,
    storageUrl: storageUrl.href,
    applicationName,
    snapshot,
    async since(before) {
      const after = await snapshot();
      const [row] = await sql.unsafe(`SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::text AS d`, [
        after.lsn,
        before.lsn,
      ]);
      let schemaWalBytes: number | undefined;
      if (waldump !== undefined) {
        // The schema's tables, their indexes and TOAST tables (and theirs), as the WAL names them.
        const relations = await sql.unsafe(
          `SELECT concat_ws('/', CASE c.reltablespace WHEN 0 THEN d.dattablespace ELSE c.reltablespace END,
                  d.oid, pg_relation_filenode(c.oid)) AS path
             FROM pg_class c JOIN pg_database d ON d.datname = current_database()
            WHERE pg_relation_filenode(c.oid) IS NOT NULL AND (
              c.relnamespace = $1::regnamespace
              OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relnamespace = $1::regnamespace)
              OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN
                  (SELECT reltoastrelid FROM pg_class WHERE relnamespace = $1::regnamespace)))`,
          [schema],
        );
        try {
          schemaWalBytes = await schemaWal(
            before.lsn,
            after.lsn,
            new Set(relations.map((r) => r.path as string)),
          );
        } catch (error) {
          process.stderr.write(
            `bench: the schema's WAL was not read: ${(error as Error).message}\n`,
          );
        }
      }
      let backendCpuSeconds: number | undefined;
      // A backend that appeared meanwhile counts from zero; one that went away is lost.
      for (const [pid, seconds] of after.backendCpu) {
        backendCpuSeconds = (backendCpuSeconds ?? 0) + seconds - (before.backendCpu.get(pid) ?? 0);
      }
      return {
        walBytes: Number(row!.d),
        logRows: after.logRows - before.logRows,
        backendCpuSeconds,
        ...(schemaWalBytes === undefined ? {} : { schemaWalBytes }),
      };
    },
    async drop() {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

/** Drops schemas left by harnesses that were killed before they could (their process is gone). */
export async function removeStaleSchemas(url: string): Promise<string[]> {
  const sql = connection(url);
  const rows = await sql.unsafe(
    `SELECT n.nspname AS schema, d.description AS comment
       FROM pg_namespace n JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass
      WHERE n.nspname LIKE 'bench\\_%' AND d.description LIKE $1`,
    [`${COMMENT_PREFIX}%`],
  );
  const dropped: string[] = [];
  for (const row of rows) {
    const pid = Number((row.comment as string).slice(COMMENT_PREFIX.length));
    if (!Number.isInteger(pid) || pid === process.pid || isAlive(pid)) continue;
    await sql.unsafe(`DROP SCHEMA IF EXISTS ${row.schema as string} CASCADE`);
    dropped.push(row.schema as string);
  }
  return dropped;
}
