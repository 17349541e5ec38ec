import { existsSync, statSync } from "node:fs";
import { availableParallelism, hostname } from "node:os";
import { dirname, resolve } from "node:path";
import { NATS_URL_PATTERN } from "../bindings/queues/index.ts";
import { findConfigDirUpward } from "../config/index.ts";
import type { LogFormat } from "./logger.ts";

/** Options shared by `stead dev` and `stead start`, after flags and environment are merged. */
export interface ServerOptions {
  /** The app directory holding wrangler.jsonc / wrangler.json / wrangler.toml. */
  dir: string;
  /** The entry module (absolute), when given on the command line instead of the config's `main`. */
  main: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  logFormat: LogFormat;
  /** How long in-flight work may take to finish on shutdown (ms). */
  shutdownTimeoutMs: number;
  /** Development mode: read .dev.vars. */
  dev: boolean;
  /** Idle time before an object holding only hibernatable WebSockets hibernates (ms). */
  hibernateAfterMs: number;
  /** `request.cf`'s location from a trusted proxy's visitor location headers. */
  cfLocationHeaders: boolean;
  /** Object databases open at once before the least recently used idle ones close. */
  maxOpenDatabases: number | undefined;
  /** Connections open at once; unset, derived from the open-file limit (`maxConnections`). */
  maxConnections: number | undefined;
  /** The wrangler environment (`[env.<name>]`) to use, if any. */
  env: string | undefined;
  /** Object threads (0: objects on the main thread). */
  threads: number;
  /** A PostgreSQL URL where objects are durable; unset, the data directory is. */
  storage: string | undefined;
  /** A NATS URL where queues live (`--queues`); unset, the data directory's queues.sqlite. */
  queues: string | undefined;
  /** Days of object history kept for point-in-time recovery; unset, the default (30). */
  historyRetentionDays: number | undefined;
  /** The local driver's durability mode and journal segment size; unset, the defaults. */
  durability: "journal" | "wal" | undefined;
  journalSegmentBytes: number | undefined;
  /** This process as a cluster node (`--cluster`); its storage is the cluster's URL. */
  cluster: ClusterFlags | undefined;
  /** The admin API's listener (`--admin-port`); unset, none. */
  admin: AdminFlags | undefined;
  /** The change feed (`--feed-classes`, `--feed`); unset, none. */
  feed: FeedFlags | undefined;
  /**
   * Set by `stead dev` for its app process: the URL of the bundle it built, imported as it is
   * (no build, no `build.command`).
   */
  prebuilt?: string | undefined;
}

/** The change feed's classes and sinks, from `--feed-classes`, `--feed` and `STEAD_FEED_*`. */
export interface FeedFlags {
  classes: string[];
  sinks: string[];
}

/** A cluster node's settings, from `--cluster`, `--node-id`, `--advertise` and `STEAD_CLUSTER_*`. */
export interface ClusterFlags {
  nodeId: string;
  advertise: string;
  /** Where to listen for other nodes, when not the advertised address. */
  listen: string | undefined;
  secret: string;
  leaseMs: number | undefined;
}

/** The admin listener's settings, from `--admin-port`, `--admin-host` and `STEAD_ADMIN_*`. */
export interface AdminFlags {
  host: string;
  port: number;
  /** From STEAD_ADMIN_TOKEN / STEAD_ADMIN_READ_TOKEN; unset, the server makes a token. */
  tokens: { readWrite: string; readOnly?: string } | undefined;
}

/** Raw flag values as commander gives them. */
export interface ServerFlags {
  main?: string;
  port?: string;
  host?: string;
  dataDir?: string;
  logFormat?: string;
  shutdownTimeout?: string;
  hibernateAfter?: string;
  cfLocationHeaders?: boolean;
  maxOpenDatabases?: string;
  maxConnections?: string;
  env?: string;
  threads?: string;
  storage?: string;
  queues?: string;
  historyRetentionDays?: string;
  durability?: string;
  prebuilt?: string;
  cluster?: string;
  nodeId?: string;
  advertise?: string;
  clusterListen?: string;
  adminPort?: string;
  adminHost?: string;
  feedClasses?: string;
  feed?: string[];
}

/** Thrown for bad flags or environment variables; the CLI prints the message alone. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Merges flags over `STEAD_*` environment variables over defaults, validating each. `pathArg` is
 * the app directory, or the entry module (as in `wrangler dev src/index.ts`): its config is then
 * the nearest one at or above the entry's directory, else the one in the current directory.
 */
export function resolveServerOptions(
  pathArg: string | undefined,
  flags: ServerFlags,
  mode: { dev: boolean },
  env: NodeJS.ProcessEnv = process.env,
): ServerOptions {
  const { dir, main } = appLocation(pathArg, flags.main);
  const port = integer(flags.port ?? env.STEAD_PORT ?? "8787", "--port / STEAD_PORT", 0, 65535);
  const host = flags.host ?? env.STEAD_HOST ?? (mode.dev ? "127.0.0.1" : "0.0.0.0");
  const dataDir = resolve(flags.dataDir ?? env.STEAD_DATA_DIR ?? resolve(dir, ".stead"));
  const logFormat = flags.logFormat ?? env.STEAD_LOG_FORMAT ?? (mode.dev ? "pretty" : "json");
  if (logFormat !== "json" && logFormat !== "pretty") {
    throw new UsageError(
      `--log-format / STEAD_LOG_FORMAT must be "json" or "pretty", got "${logFormat}".`,
    );
  }
  const shutdownTimeoutMs = integer(
    flags.shutdownTimeout ?? env.STEAD_SHUTDOWN_TIMEOUT ?? "30000",
    "--shutdown-timeout / STEAD_SHUTDOWN_TIMEOUT",
    0,
    3_600_000,
  );
  const hibernateAfterMs = integer(
    flags.hibernateAfter ?? env.STEAD_HIBERNATE_AFTER ?? "10000",
    "--hibernate-after / STEAD_HIBERNATE_AFTER",
    1,
    3_600_000,
  );
  const cfLocationHeaders =
    flags.cfLocationHeaders ??
    boolean(env.STEAD_CF_LOCATION_HEADERS, "--cf-location-headers / STEAD_CF_LOCATION_HEADERS");
  // Unset, the driver picks it (2,000, or fewer under a low open-file limit).
  const maxOpenText = flags.maxOpenDatabases ?? env.STEAD_MAX_OPEN_DATABASES;
  const maxOpenDatabases =
    maxOpenText === undefined
      ? undefined
      : integer(maxOpenText, "--max-open-databases / STEAD_MAX_OPEN_DATABASES", 1, 1_000_000);
  // Unset, derived from the open-file limit once the databases' share is known.
  const maxConnectionsText = flags.maxConnections ?? env.STEAD_MAX_CONNECTIONS;
  const maxConnections =
    maxConnectionsText === undefined
      ? undefined
      : integer(maxConnectionsText, "--max-connections / STEAD_MAX_CONNECTIONS", 1, 10_000_000);
  const wranglerEnv = flags.env ?? env.STEAD_ENV;
  const cluster = clusterFlags(flags, env);
  const storage = cluster?.url ?? flags.storage ?? env.STEAD_STORAGE_URL;
  if (storage !== undefined && !/^postgres(ql)?:\/\//.test(storage)) {
    throw new UsageError(
      `--storage / STEAD_STORAGE_URL must be a PostgreSQL URL, like postgres://user:password@127.0.0.1:5432/app (got "${storage.replace(/:[^:@/]*@/, ":***@")}").`,
    );
  }
  const queues = flags.queues ?? env.STEAD_QUEUES_URL;
  if (queues !== undefined && !NATS_URL_PATTERN.test(queues)) {
    throw new UsageError(
      `--queues / STEAD_QUEUES_URL must be a NATS URL, like nats://127.0.0.1:4222 (optionally ?prefix=NAME: letters, digits, _ and -), got "${queues.replace(/\/\/[^@/]*@/, "//***@")}".`,
    );
  }
  const threadsText = flags.threads ?? env.STEAD_THREADS;
  const threads = integer(
    threadsText ?? String(defaultThreads()),
    "--threads / STEAD_THREADS",
    0,
    256,
  );
  return {
    dir,
    main,
    port,
    host,
    dataDir,
    logFormat,
    shutdownTimeoutMs,
    hibernateAfterMs,
    cfLocationHeaders,
    maxOpenDatabases,
    maxConnections,
    dev: mode.dev,
    env: wranglerEnv,
    threads,
    storage,
    queues,
    historyRetentionDays: days(
      flags.historyRetentionDays ?? env.STEAD_HISTORY_RETENTION_DAYS,
      "--history-retention-days / STEAD_HISTORY_RETENTION_DAYS",
    ),
    ...durabilityFlags(flags, env, storage),
    ...(flags.prebuilt === undefined ? {} : { prebuilt: flags.prebuilt }),
    cluster: cluster?.node,
    admin: adminFlags(flags, env),
    feed: feedFlags(flags, env),
  };
}

/** `--durability` / `STEAD_DURABILITY` and `STEAD_JOURNAL_SEGMENT_BYTES`, for the local driver. */
function durabilityFlags(
  flags: ServerFlags,
  env: NodeJS.ProcessEnv,
  storage: string | undefined,
): Pick<ServerOptions, "durability" | "journalSegmentBytes"> {
  const mode = flags.durability ?? env.STEAD_DURABILITY;
  if (mode !== undefined && mode !== "journal" && mode !== "wal") {
    throw new UsageError(
      `--durability / STEAD_DURABILITY must be "journal" (one node journal, the default) or "wal" (an fdatasync per object WAL), got "${mode}".`,
    );
  }
  if (storage !== undefined && flags.durability !== undefined) {
    throw new UsageError(
      "--durability applies to the local data directory; with --storage, PostgreSQL makes commits durable. Leave one of them out.",
    );
  }
  const segmentText = env.STEAD_JOURNAL_SEGMENT_BYTES;
  return {
    durability: storage === undefined ? mode : undefined,
    journalSegmentBytes:
      segmentText === undefined || storage !== undefined
        ? undefined
        : integer(segmentText, "STEAD_JOURNAL_SEGMENT_BYTES", 4096, 2 ** 31),
  };
}

/** `--feed-classes` and `--feed` (or STEAD_FEED_CLASSES and STEAD_FEED_SINKS), checked. */
function feedFlags(flags: ServerFlags, env: NodeJS.ProcessEnv): FeedFlags | undefined {
  const classesText = flags.feedClasses ?? env.STEAD_FEED_CLASSES;
  const sinks =
    flags.feed !== undefined && flags.feed.length > 0
      ? flags.feed
      : (env.STEAD_FEED_SINKS ?? "").split(/[\s,]+/).filter((sink) => sink !== "");
  if (classesText === undefined && sinks.length === 0) return undefined;
  const classes = (classesText ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (classes.length === 0) {
    throw new UsageError(
      "--feed / STEAD_FEED_SINKS needs the classes whose changes to ship: --feed-classes / STEAD_FEED_CLASSES, e.g. --feed-classes Cart,Order.",
    );
  }
  if (sinks.length === 0) {
    throw new UsageError(
      "--feed-classes / STEAD_FEED_CLASSES needs a sink: --feed postgres://user@host:5432/db or --feed nats://host:4222 (repeatable), or STEAD_FEED_SINKS.",
    );
  }
  for (const sink of sinks) {
    if (!/^(postgres(ql)?|nats):\/\//.test(sink)) {
      throw new UsageError(
        `--feed / STEAD_FEED_SINKS must be postgres://… or nats://… URLs (got "${sink.replace(/:[^:@/]*@/, ":***@")}").`,
      );
    }
  }
  return { classes, sinks };
}

/** Tokens shorter than this are refused: an admin token guards every object's data. */
const MIN_TOKEN_LENGTH = 16;

/** `--admin-port` and its settings, checked; undefined when the admin API is off. */
function adminFlags(flags: ServerFlags, env: NodeJS.ProcessEnv): AdminFlags | undefined {
  const portText = flags.adminPort ?? env.STEAD_ADMIN_PORT;
  if (portText === undefined) return undefined;
  const port = integer(portText, "--admin-port / STEAD_ADMIN_PORT", 0, 65535);
  const host = flags.adminHost ?? env.STEAD_ADMIN_HOST ?? "127.0.0.1";
  const readWrite = env.STEAD_ADMIN_TOKEN;
  const readOnly = env.STEAD_ADMIN_READ_TOKEN;
  for (const [name, token] of [
    ["STEAD_ADMIN_TOKEN", readWrite],
    ["STEAD_ADMIN_READ_TOKEN", readOnly],
  ] as const) {
    if (token !== undefined && token.length < MIN_TOKEN_LENGTH) {
      throw new UsageError(
        `${name} must be at least ${MIN_TOKEN_LENGTH} characters, e.g. from \`openssl rand -hex 32\`.`,
      );
    }
  }
  if (readOnly !== undefined && readWrite === undefined) {
    throw new UsageError(
      "STEAD_ADMIN_READ_TOKEN needs STEAD_ADMIN_TOKEN beside it (the read-write token); set both.",
    );
  }
  if (readWrite === undefined && !isLoopback(host)) {
    throw new UsageError(
      `The admin API would listen on ${host}, beyond this machine, without a token. Set STEAD_ADMIN_TOKEN (and optionally STEAD_ADMIN_READ_TOKEN), or keep --admin-host on 127.0.0.1.`,
    );
  }
  return {
    host,
    port,
    tokens:
      readWrite === undefined
        ? undefined
        : { readWrite, ...(readOnly === undefined ? {} : { readOnly }) },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** `--cluster URL` and the node's settings, checked; undefined when not a cluster node. */
function clusterFlags(
  flags: ServerFlags,
  env: NodeJS.ProcessEnv,
): { url: string; node: ClusterFlags } | undefined {
  const url = flags.cluster ?? env.STEAD_CLUSTER_URL;
  if (url === undefined) return undefined;
  const storage = flags.storage ?? env.STEAD_STORAGE_URL;
  if (storage !== undefined && storage !== url) {
    throw new UsageError(
      "--cluster / STEAD_CLUSTER_URL is the PostgreSQL URL objects are stored in too; leave --storage / STEAD_STORAGE_URL out, or give both the same URL.",
    );
  }
  const nodeId = flags.nodeId ?? env.STEAD_CLUSTER_NODE_ID ?? hostname();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(nodeId)) {
    throw new UsageError(
      `--node-id / STEAD_CLUSTER_NODE_ID must be 1-64 letters, digits, ".", "_" or "-", unique in the cluster, like "node-1"; got "${nodeId}".`,
    );
  }
  const advertise = flags.advertise ?? env.STEAD_CLUSTER_ADVERTISE;
  if (advertise === undefined || !/^[^\s:/]+:\d{1,5}$/.test(advertise)) {
    throw new UsageError(
      `--advertise / STEAD_CLUSTER_ADVERTISE must be the host:port other nodes reach this one at, like 10.0.0.5:7400 (the node listens there for them)${advertise === undefined ? "" : `; got "${advertise}"`}.`,
    );
  }
  const listen = flags.clusterListen ?? env.STEAD_CLUSTER_LISTEN;
  if (listen !== undefined && !/^[^\s:/]+:\d{1,5}$/.test(listen)) {
    throw new UsageError(
      `--cluster-listen / STEAD_CLUSTER_LISTEN must be host:port, like 0.0.0.0:7400; got "${listen}".`,
    );
  }
  const secret = env.STEAD_CLUSTER_SECRET;
  if (secret === undefined || secret.length < 16) {
    throw new UsageError(
      "A cluster node needs STEAD_CLUSTER_SECRET: the same random string (16 characters or more) on every node, e.g. from `openssl rand -hex 32`. Calls between nodes carry it; it is read from the environment only, so it never shows in `ps`.",
    );
  }
  const leaseText = env.STEAD_CLUSTER_LEASE_MS;
  const leaseMs =
    leaseText === undefined
      ? undefined
      : integer(leaseText, "STEAD_CLUSTER_LEASE_MS", 1_000, 600_000);
  return { url, node: { nodeId, advertise, listen, secret, leaseMs } };
}

/** The app's directory and the entry module named on the command line, if any. */
function appLocation(
  pathArg: string | undefined,
  mainFlag: string | undefined,
): { dir: string; main: string | undefined } {
  const path = resolve(pathArg ?? ".");
  const isFile = existsSync(path) && statSync(path).isFile();
  if (isFile && mainFlag !== undefined) {
    throw new UsageError(
      `Both ${pathArg} and --main ${mainFlag} name an entry module. Pass one of them (and the app directory, if not the current one, as the first argument with --main).`,
    );
  }
  if (!isFile) return { dir: path, main: mainFlag === undefined ? undefined : resolve(mainFlag) };
  const dir = findConfigDirUpward(dirname(path)) ?? process.cwd();
  return { dir, main: path };
}

/**
 * One object thread per core the process may use, when it may use several. On one core, threads
 * add a hop to every call and no throughput, so objects stay on the main thread (and
 * `limits.cpu_ms` is not enforced; `stead start` says so).
 */
function defaultThreads(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

function integer(raw: string, name: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

/** A number of days >= 0 (fractions allowed), or undefined when unset. */
function days(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(
      `${name} must be a number of days >= 0, like 30 (0 keeps no history); got "${text}".`,
    );
  }
  return value;
}

/** An on/off variable: 1/true/yes or 0/false/no (any case); unset is off. */
function boolean(text: string | undefined, name: string): boolean {
  if (text === undefined || text === "") return false;
  if (/^(1|true|yes)$/i.test(text)) return true;
  if (/^(0|false|no)$/i.test(text)) return false;
  throw new UsageError(`${name} must be 1 or 0 (true or false), got "${text}".`);
}
