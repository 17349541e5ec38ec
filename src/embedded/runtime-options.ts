import { z } from "zod";
import type { AssetsOptions } from "../bindings/assets/index.ts";
import type { D1DatabaseOptions } from "../bindings/d1/index.ts";
import { NATS_URL_PATTERN, type QueuesOptions } from "../bindings/queues/index.ts";
import type { RateLimitBindingOptions } from "../bindings/ratelimit/index.ts";
import type { ServiceBindingOptions } from "../bindings/services/index.ts";
import {
  assetsSchema,
  d1DatabaseSchema,
  kvNamespaceSchema,
  queuesOptionSchema,
  r2BucketSchema,
  ratelimitOptionSchema,
  serviceSchema,
} from "../config/bindings-schema.ts";
import { aliasSchema, defineSchema, moduleRuleSchema } from "../config/build-schema.ts";
import { cpuLimitSchema } from "../config/cpu-limit-schema.ts";
import { migrationSchema } from "../config/migration-schema.ts";
import type { Clock } from "../core/clock.ts";
import type { ConsoleEntry } from "../core/console-capture.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionIssues } from "../core/invalid-options.ts";
import type { Migration } from "../core/migrations/migration.ts";
import type { ObjectLimits } from "../core/object/object-class.ts";
import type { StorageDriver } from "../core/storage/driver.ts";
import { DataDirLock } from "../drivers/local/data-dir-lock.ts";
import { type FeedOptions, feedSchema } from "../feed/feed-options.ts";
import type { BuildKeys } from "../loader/build-options.ts";

/** A cluster node's settings (`createRuntime({ cluster })`, `stead start --cluster`). */
export interface ClusterOptions {
  /** This node's id, unique in the cluster: letters, digits, `.`, `_`, `-` (`--node-id`). */
  nodeId: string;
  /** Where other nodes reach this one, `host:port` (`--advertise`); it listens there for them. */
  advertise: string;
  /** Shared by every node, at least 16 characters; calls between nodes carry it. */
  secret: string;
  /** How long a node's claims last without a heartbeat, ms (default 4,000; at least 1,000). */
  leaseMs?: number;
  /**
   * Where to listen for other nodes, `host:port` (`--cluster-listen`), when it differs from the
   * advertised address (a container's port mapping, a proxy). Default: the advertised address.
   */
  listen?: string;
  /**
   * Called when an operator asks this node to drain (`stead cluster drain`). Default: the
   * runtime disposes itself, handing its objects over to the other nodes.
   */
  onDrain?: () => void;
}

/** A Durable Object binding: the class name, or the class name and its storage backend. */
export type DurableObjectBinding =
  | string
  | {
      className: string;
      /** SQLite-backed (default) or legacy KV-backed (`new_classes`): no SQL API. */
      storage?: "sqlite" | "kv";
    };

/** How an entry given as a path or `file:` URL is bundled, as wrangler config keys say. */
export type AppBuildOptions = BuildKeys;

/** Options of `createRuntime`. */
export interface RuntimeOptions {
  /**
   * The app's wrangler config: its directory (holding `wrangler.jsonc`, `wrangler.json` or
   * `wrangler.toml`) or the file itself, as a path or `file:` URL. It is read as `stead dev`
   * reads it (`.dev.vars` included) and its custom `build.command` runs first; every option
   * given here wins over what it says (`vars` are merged over the config's, one by one).
   */
  config?: string | URL;
  /**
   * The entry module: a path (resolved from `cwd`) or `file:` URL, bundled as wrangler bundles
   * it (see `build`); another URL, imported as it is; or an imported module namespace.
   * Required unless `config` names it.
   */
  main?: string | URL | Record<string, unknown>;
  /** How a `main` path is bundled. */
  build?: AppBuildOptions;
  /**
   * Cloudflare compatibility flags (`compatibility_flags`). `nodejs_compat` / `nodejs_compat_v2`
   * let the app import Node built-ins by bare name (`fs`), not only as `node:fs`.
   */
  compatibilityFlags?: string[];
  /** Binding name -> exported class name, e.g. `{ COUNTER: "Counter" }`. */
  durableObjects?: Record<string, DurableObjectBinding>;
  /** Plain bindings (strings, numbers, JSON values) visible in `env`. */
  vars?: Record<string, unknown>;
  /**
   * Static assets, as the wrangler config's `assets` key says: `directory` (resolved from
   * `cwd`), `binding`, `not_found_handling`, `html_handling`, `run_worker_first`. They answer
   * `fetch` before the Worker as on Cloudflare, and the Worker reaches them through
   * `env[binding].fetch()`. See docs/bindings.md.
   */
  assets?: AssetsOptions;
  /**
   * KV namespaces, as the wrangler config's `kv_namespaces` key lists them: `env[binding]` is a
   * KV namespace whose entries live in `<dataDir>/kv.sqlite` under `id` (or the binding name).
   * Tests seed and read them through `runtime.env[binding]`.
   */
  kv_namespaces?: Array<{ binding: string; id?: string }>;
  /**
   * R2 buckets, as the wrangler config's `r2_buckets` key lists them: `env[binding]` is a
   * bucket named `bucket_name` (default: the binding name) whose objects live in the data
   * directory (`r2.sqlite` for metadata, `r2-blobs/` for bytes). Buckets of one name share
   * their objects. Tests seed and read them through `runtime.env[binding]`.
   */
  r2_buckets?: Array<{ binding: string; bucket_name?: string }>;
  /**
   * D1 databases, as the wrangler config's `d1_databases` key lists them: `env[binding]` is a
   * D1 database named by `database_id` (else `database_name`, else the binding name), held by a
   * Durable Object with its own SQLite database in the data directory, so it has the objects'
   * gates, durability and storage driver. `migrations_dir` and `migrations_table` are read by
   * `stead d1 migrations` and `applyD1Migrations` of `stead/testing`.
   */
  d1_databases?: D1DatabaseOptions[];
  /**
   * Service bindings to this Worker's own entrypoints, as the wrangler config's `services` key
   * lists them: `env[binding]` calls the export named `entrypoint` (default: the default export)
   * with `fetch()` or RPC, each call on a new instance whose `ctx.props` is a copy of `props`.
   * `service` (the Worker's name) is accepted and not used: Stead runs one Worker.
   */
  services?: ServiceBindingOptions[];
  /**
   * Queues, as the wrangler config's `queues` key lists them: each `producers` entry puts a
   * producer in `env[binding]` (`send`, `sendBatch`), each `consumers` entry delivers a queue's
   * messages to the Worker's `queue(batch, env, ctx)` handler in batches, with retries and a
   * dead-letter queue. Messages live in `<dataDir>/queues.sqlite`, or in NATS with `queuesUrl`.
   * See docs/bindings.md.
   */
  queues?: QueuesOptions;
  /**
   * Rate Limiting bindings, as the wrangler config's `ratelimits` key lists them: `env[name]`
   * has `limit({ key })`, which resolves `{ success: false }` once `key` has made `simple.limit`
   * calls in the current window of `simple.period` (10 or 60) seconds. Bindings with the same
   * `namespace_id` share their counters. Counters live in memory, one set per thread, on the
   * runtime's `clock`. See docs/bindings.md.
   *
   * @example
   * ratelimits: [{ name: "MY_RATE_LIMITER", namespace_id: "1001", simple: { limit: 100, period: 60 } }]
   */
  ratelimits?: RateLimitBindingOptions[];
  /**
   * Keep queues in NATS JetStream instead of the data directory: `nats://host:port`, optionally
   * `?prefix=NAME` (default "stead": stream `STEAD_QUEUES`, subjects `stead.queue.<name>`).
   * `stead start --queues` / `STEAD_QUEUES_URL` set it.
   */
  queuesUrl?: string;
  /** Where object databases live. Omitted: a temporary directory removed on dispose. */
  dataDir?: string;
  /**
   * Where objects are durable. Omitted: on this machine's disk, in `dataDir` (the local driver).
   * A PostgreSQL URL (`postgres://user:password@host:5432/database`, optionally `?schema=NAME`,
   * default schema `stead`): every commit is durable in PostgreSQL before its outputs leave, and
   * `dataDir` only holds working copies, rebuilt from PostgreSQL when missing. Stead creates its
   * tables in the schema.
   */
  storage?: string;
  /**
   * Makes this runtime a node of a cluster whose nodes share the PostgreSQL `storage`: each
   * object lives on one node at a time (the node that first asks for it, fenced by an epoch),
   * calls to objects another node holds are forwarded to it, and a node's objects move to the
   * others once its lease expires. See docs/cluster.md.
   */
  cluster?: ClusterOptions;
  /**
   * A change feed out of the objects of `classes`: every commit's row changes and KV puts and
   * deletes, recorded in the same transaction and shipped to each of `sinks` (PostgreSQL
   * projections, NATS JetStream) exactly once. See docs/change-feed.md.
   *
   * @example
   * feed: { classes: ["Cart"], sinks: ["postgres://app@127.0.0.1:5432/reports"] }
   */
  feed?: FeedOptions;
  /**
   * With the default local driver: the data directory's lock (one process at a time uses a data
   * directory). Omitted: the runtime takes it before writing anything and releases it on
   * dispose; another process holding it fails with `DATA_DIR_LOCKED`. A `DataDirLock` you took
   * for `dataDir`: the runtime uses it and leaves releasing it to you. `"held"`: this process
   * holds it already (a runtime on a worker thread).
   */
  dataDirLock?: DataDirLock | "held";
  /**
   * With the default local driver: object databases open at once (each costs about 190 KB and
   * three file descriptors). Default 2,000, or fewer under a low open-file limit; a value that
   * needs more than three quarters of that limit is refused. Objects opened once close soon;
   * past the limit, the least recently used idle ones close. Either way they reopen on their
   * next use.
   */
  maxOpenDatabases?: number;
  /**
   * With the local driver or `storage` (PostgreSQL): days each object's database history is kept for
   * point-in-time recovery (`ctx.storage.getBookmarkForTime`, `onNextSessionRestoreBookmark`).
   * Default 30, as on Cloudflare; fractions are allowed; 0 keeps no history (the PITR calls
   * then reject). The CLI fills it from `--history-retention-days` / `STEAD_HISTORY_RETENTION_DAYS`.
   */
  historyRetentionDays?: number;
  /**
   * With the local driver: how commits are made durable. `"journal"` (default): one node-level
   * journal whose fdatasync acknowledges the commits of every object made meanwhile (group
   * commit), replayed into the objects after a crash. `"wal"`: an fdatasync of each object's own
   * WAL per commit. The CLI fills it from `--durability` / `STEAD_DURABILITY`. See
   * docs/durability.md.
   */
  durability?: "journal" | "wal";
  /**
   * With the local driver's journal: the size in bytes past which a journal segment is retired
   * (default 64 MiB). The journal holds about two segments, which bounds the replay after a
   * crash. The CLI fills it from `STEAD_JOURNAL_SEGMENT_BYTES`.
   */
  journalSegmentBytes?: number;
  /**
   * Bytes of `idFromName()` names whose ids are kept, shared by all namespaces (default 8 MiB;
   * 0 turns the cache off). Least recently used names leave first; a name not cached costs two
   * HMACs to resolve, so this trades memory for CPU, never correctness.
   */
  nameCacheBytes?: number;
  /** Cloudflare compatibility date (YYYY-MM-DD); selects dated behaviour changes. */
  compatibilityDate?: string;
  /**
   * Durable Object migrations, as in wrangler config: applied once per data directory, in order,
   * before any object runs. Without migrations, a bound class is created SQLite-backed (or with
   * its binding's `storage`) the first time it is seen. A class's ids and data stay with it for
   * good; a class's recorded backend wins over its binding's `storage`.
   */
  migrations?: Migration[];
  /**
   * Tags of migrations whose `deleted_classes` may delete data. A pending deletion that is not
   * confirmed here stops the runtime from starting (`DELETE_NOT_CONFIRMED`), changing nothing.
   * The CLI fills it from `STEAD_CONFIRM_DELETE=<tag>[,<tag>...]`.
   */
  confirmDeletions?: string[];
  /**
   * Durable Object classes that have storage whether or not a binding names them, with their
   * backend (wrangler's declarative `exports`): reachable through `ctx.exports.ClassName`.
   * Created on first sight, as a bound class is.
   */
  objectClasses?: Record<string, "sqlite" | "kv">;
  /** The config file these options came from; configuration errors name it. */
  configPath?: string;
  /** Directory relative paths are resolved from (default: the process's cwd). */
  cwd?: string;
  /** Per-object limits. */
  objects?: Partial<ObjectLimits>;
  /**
   * Object threads. 0 (the default here): objects run on the caller's thread, where the
   * `stead/testing` helpers can reach them. N >= 1: objects run on N worker threads, each owning
   * a share of the ids, so an event past `cpuLimitMs` can be stopped without stopping the
   * others, and the objects use N cores. Needs `main` as a path or URL, the default driver and
   * the system clock. `stead start` defaults to the machine's cores.
   */
  threads?: number;
  /**
   * With `threads`: how long one event may keep its thread busy without yielding before the
   * thread is stopped and its objects reset (`limits.cpu_ms` in wrangler config). Default 30,000.
   */
  cpuLimitMs?: number;
  /** Time source; tests pass a `ManualClock`. */
  clock?: Clock;
  /** Storage driver; default is the local driver on `dataDir`. */
  driver?: StorageDriver;
  /** Receives errors nobody else sees (failed alarms, rejected `waitUntil` promises). */
  onError?: (error: unknown, context: string) => void;
  /**
   * Receives notices worth a log line that are not errors: after a crash, what replaying the
   * local driver's journal took (`"journal replayed"`, with records, objects, bytes and ms).
   */
  onNotice?: (message: string, fields: Record<string, unknown>) => void;
  /**
   * Receives what the app writes through `console` (on every object thread too), with its level
   * and the object that wrote it, instead of the process's stdout/stderr. `stead start` logs it
   * as JSON lines. Omitted: the console is left alone.
   */
  onConsole?: (entry: ConsoleEntry) => void;
}

/** Options once `config` is read and merged: `main` is known. */
export type ResolvedRuntimeOptions = Omit<RuntimeOptions, "config" | "main"> & {
  main: string | URL | Record<string, unknown>;
};

/** Defaults for `objects`. */
export const DEFAULT_LIMITS: ObjectLimits = {
  idleTimeoutMs: 70_000,
  hibernateAfterMs: 10_000,
  maxQueuedEvents: 10_000,
  maxQueueAgeMs: 30_000,
  blockConcurrencyTimeoutMs: 30_000,
  maxActive: 10_000,
  maxDatabaseBytes: 10 * 1024 ** 3,
};

/** The smallest `objects.maxDatabaseBytes`: an empty object's database takes a few pages. */
export const MIN_DATABASE_BYTES = 64 * 1024;

const bindingName = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript identifier");
const className = z.string().regex(/^[A-Za-z_$][\w$]*$/, "must be a JavaScript class name");
const positiveMs = z.number().int().positive();

const schema = z.object({
  main: z.union([z.string().min(1), z.instanceof(URL), z.record(z.string(), z.unknown())], {
    error: (issue) =>
      issue.input === undefined
        ? "is required: the entry module's path, URL or imported module namespace (or config: the app's directory with its wrangler config)"
        : "must be the entry module's path, URL or imported module namespace",
  }),
  durableObjects: z
    .record(
      bindingName,
      z.union(
        [className, z.object({ className, storage: z.enum(["sqlite", "kv"]).optional() }).strict()],
        {
          error:
            'must be a class name like "Counter", or { className: "Counter", storage?: "sqlite" | "kv" }',
        },
      ),
      {
        error: (issue) =>
          issue.code === "invalid_key"
            ? "binding names must be JavaScript identifiers, like COUNTER"
            : undefined,
      },
    )
    .optional(),
  build: z
    .object({
      rules: z.array(moduleRuleSchema).optional(),
      define: defineSchema.optional(),
      alias: aliasSchema.optional(),
      tsconfig: z.string().min(1).optional(),
      jsxFactory: z.string().min(1).optional(),
      jsxFragment: z.string().min(1).optional(),
      minify: z.boolean().optional(),
      keepNames: z.boolean().optional(),
      nodeEnv: z.string().optional(),
    })
    .strict()
    .optional(),
  compatibilityFlags: z.array(z.string().min(1)).optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  assets: assetsSchema.strict().optional(),
  kv_namespaces: z.array(kvNamespaceSchema.strict()).optional(),
  services: z.array(serviceSchema.strict()).optional(),
  r2_buckets: z.array(r2BucketSchema.strict()).optional(),
  d1_databases: z.array(d1DatabaseSchema.strict()).optional(),
  queues: queuesOptionSchema.optional(),
  ratelimits: z.array(ratelimitOptionSchema).optional(),
  queuesUrl: z
    .string({ error: 'must be a NATS URL, like "nats://127.0.0.1:4222"' })
    .regex(NATS_URL_PATTERN, {
      error:
        'must be a NATS URL, like "nats://127.0.0.1:4222" (optionally ?prefix=NAME: letters, digits, _ and -)',
    })
    .optional(),
  dataDir: z.string().min(1).optional(),
  storage: z
    .string({ error: 'must be a PostgreSQL URL, like "postgres://user@127.0.0.1:5432/app"' })
    .regex(/^postgres(ql)?:\/\//, {
      error: 'must be a PostgreSQL URL, like "postgres://user@127.0.0.1:5432/app"',
    })
    .optional(),
  cluster: z
    .object({
      nodeId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, {
        error: 'must be 1-64 letters, digits, ".", "_" or "-", like "node-1"',
      }),
      advertise: z.string().regex(/^[^\s:/]+:\d{1,5}$/, {
        error: 'must be host:port, like "10.0.0.5:7400"',
      }),
      secret: z.string().min(16, { error: "must be at least 16 characters (a random string)" }),
      leaseMs: z.number().int().min(1_000, { error: "must be at least 1000 ms" }).optional(),
      listen: z
        .string()
        .regex(/^[^\s:/]+:\d{1,5}$/, { error: 'must be host:port, like "0.0.0.0:7400"' })
        .optional(),
      onDrain: z
        .custom<() => void>((v) => typeof v === "function", "must be a function")
        .optional(),
    })
    .strict()
    .optional(),
  feed: feedSchema.optional(),
  dataDirLock: z
    .union([z.custom<DataDirLock>((v) => v instanceof DataDirLock), z.literal("held")], {
      error: 'must be a DataDirLock (DataDirLock.acquire(dataDir)) or "held"',
    })
    .optional(),
  maxOpenDatabases: z
    .number({ error: "must be a positive integer, like 1000" })
    .int({ error: "must be a positive integer, like 1000" })
    .positive({ error: "must be a positive integer, like 1000" })
    .optional(),
  historyRetentionDays: z
    .number({ error: "must be a number of days, like 30 (0 keeps no history)" })
    .nonnegative({ error: "must be 0 or more days, like 30 (0 keeps no history)" })
    .optional(),
  durability: z.enum(["journal", "wal"], { error: 'must be "journal" or "wal"' }).optional(),
  journalSegmentBytes: z
    .number({ error: "must be a number of bytes, like 67108864" })
    .int({ error: "must be a whole number of bytes, like 67108864" })
    .min(4096, { error: "must be at least 4096 bytes (4 KiB)" })
    .optional(),
  nameCacheBytes: z
    .number({ error: "must be a number of bytes, like 8388608 (0 turns the cache off)" })
    .int({ error: "must be a whole number of bytes, like 8388608" })
    .nonnegative({ error: "must be 0 or more bytes, like 8388608" })
    .optional(),
  compatibilityDate: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date like 2026-02-24")
    .optional(),
  migrations: z.array(migrationSchema).optional(),
  confirmDeletions: z.array(z.string().min(1)).optional(),
  objectClasses: z.record(className, z.enum(["sqlite", "kv"])).optional(),
  configPath: z.string().min(1).optional(),
  cwd: z.string().min(1).optional(),
  objects: z
    .object({
      idleTimeoutMs: positiveMs,
      hibernateAfterMs: positiveMs,
      maxQueuedEvents: positiveMs,
      maxQueueAgeMs: positiveMs,
      blockConcurrencyTimeoutMs: positiveMs,
      maxActive: positiveMs,
      maxDatabaseBytes: z
        .number({ error: "must be a number of bytes, like 10737418240 (10 GiB)" })
        .int({ error: "must be a whole number of bytes, like 10737418240 (10 GiB)" })
        .min(MIN_DATABASE_BYTES, {
          error: `must be at least ${MIN_DATABASE_BYTES} bytes (an empty object's database takes a few pages)`,
        }),
    })
    .partial()
    .strict()
    .optional(),
  threads: z
    .number({
      error: "must be a whole number of object threads, like 2 (0: objects on this thread)",
    })
    .int({ error: "must be a whole number of object threads, like 2 (0: objects on this thread)" })
    .min(0, {
      error: "must be a whole number of object threads, like 2 (0: objects on this thread)",
    })
    .max(256, { error: "must be at most 256 object threads" })
    .optional(),
  cpuLimitMs: cpuLimitSchema.optional(),
  clock: z
    .custom<Clock>((v) => typeof v === "object" && v !== null && "now" in v && "setTimer" in v, {
      error: "must be a Clock (an object with now() and setTimer()), such as new ManualClock()",
    })
    .optional(),
  driver: z
    .custom<StorageDriver>(
      (v) => typeof v === "object" && v !== null && "openObject" in v && "control" in v,
      { error: "must be a StorageDriver, such as new LocalDriver({ dataDir })" },
    )
    .optional(),
  onError: z.function().optional(),
  onNotice: z.function().optional(),
  onConsole: z.function().optional(),
});

/** Validates options once, at the edge, naming the offending option path. */
export function parseRuntimeOptions(options: unknown): ResolvedRuntimeOptions {
  const result = schema.strict().safeParse(options);
  if (!result.success) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionIssues("createRuntime()", result.error.issues),
    );
  }
  return options as ResolvedRuntimeOptions;
}
