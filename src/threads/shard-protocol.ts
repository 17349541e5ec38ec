import type { ConsoleEntry } from "../core/console-capture.ts";
import type { AdminRequest } from "../core/object/object-admin.ts";
import type { ObjectLimits } from "../core/object/object-class.ts";
import type { AlarmRecord } from "../core/storage/driver.ts";
import type { WireError, WireRequest } from "./wire.ts";

/**
 * The messages between the main thread and an object thread (a shard). Each object lives on
 * exactly one shard, chosen from its id (`shardOf`); calls to it from anywhere else go through
 * the main thread, the same way the cluster forwards a call to the node that owns an object.
 */

/** An event for an object on another thread. */
export type WireEvent =
  | { kind: "fetch"; request: WireRequest }
  | { kind: "rpc"; member: string; args: unknown[] | undefined }
  | { kind: "alarm"; record: AlarmRecord }
  | { kind: "admin"; request: AdminRequest };

/** What an event's result is on the wire: a WireResponse for fetch, the clone for RPC. */
export type WireOutcome = { ok: true; value: unknown } | { ok: false; error: WireError };

/** A call of an object, numbered by its sender so the answer finds it. */
export interface WireCall {
  t: "call";
  call: number;
  namespace: string;
  id: string;
  name: string | undefined;
  /** The id's jurisdiction (`ns.jurisdiction("eu")`), if it was made in one. */
  jurisdiction?: string;
  event: WireEvent;
  /**
   * Set instead of an object: a call of a function or RpcTarget that thread `thread` keeps
   * (`threads/handles.ts`); `member` undefined calls the function itself.
   */
  handle?: { thread: number; handle: number; member: string | undefined };
  /** The RPC arguments hold references (markers) to revive. */
  refs?: true;
  /** Another cluster node sent the event to this one: deliver it here, never send it on. */
  forwarded?: true;
}

/** The answer to a `WireCall`; `refs`: the value holds references to revive. */
export type WireResult = { t: "result"; call: number; refs?: true } & WireOutcome;

export type ToShard =
  /** Deliver an event to one of the shard's objects. */
  | WireCall
  /** The answer to a call the shard sent. */
  | WireResult
  /** No stub needs the value the shard keeps under `handle` any more. */
  | { t: "release"; handle: number }
  /** Flush and close every object, then say `disposed`. */
  | { t: "dispose" }
  /** Discard every live object, failing its outputs with `error` (the cluster node lost its lease). */
  | { t: "reset"; error: WireError }
  /** Answer `metrics` with the shard's metrics. */
  | { t: "metrics"; request: number };

export type FromShard =
  /** The app loaded and the shard takes calls. */
  | { t: "ready" }
  /** The shard could not start (the app failed to load, the data directory failed to open). */
  | { t: "failed"; error: WireError }
  /** The answer to a call the main thread sent. */
  | WireResult
  /** A call of an object on another shard. */
  | WireCall
  /** No stub on the shard needs the value thread `thread` keeps under `handle` any more. */
  | { t: "release"; thread: number; handle: number }
  /** An object changed the node's alarm index: the scheduler should look again. */
  | { t: "alarmIndexChanged" }
  /** An error nobody else sees, for the runtime's `onError`. */
  | { t: "error"; error: WireError; context: string }
  /** A line the app wrote through `console`, for the runtime's `onConsole`. */
  | { t: "console"; entry: ConsoleEntry }
  /** Every object is flushed and closed. */
  | { t: "disposed" }
  /** The shard's metrics, for request `request` (plain data the main thread sums with its own). */
  | { t: "metrics"; request: number; families: unknown };

/** What the main thread gives a shard at start. */
export interface ShardData {
  shard: number;
  shards: number;
  /** Entry module URL. */
  main: string;
  /** Directory the entry module's relative paths resolve from. */
  cwd: string;
  dataDir: string;
  /** The PostgreSQL storage URL, when objects are stored there (`storage`); else the local driver. */
  storage: string | undefined;
  /** The change feed's classes and sinks (`createRuntime({ feed })`): each thread ships its objects'. */
  feed?: { classes: string[]; sinks: string[] } | undefined;
  maxOpenDatabases: number | undefined;
  /** History kept for point-in-time recovery, ms (undefined: the driver's default). */
  historyRetentionMs: number | undefined;
  /** The local driver's `durability` and `journalSegmentBytes`. */
  durability: { durability?: "journal" | "wal"; journalSegmentBytes?: number };
  compatibilityDate: string;
  /** `compatibility_flags` (queues pick their default content type by them). */
  compatibilityFlags: string[];
  vars: Record<string, unknown>;
  /** Binding name -> storage name, for the env. */
  bindings: Record<string, string>;
  /** The app's static assets (`ResolvedAssets` of bindings/assets), for its binding. */
  assets: object | undefined;
  /** Queue producers (`queues.producers`): this thread sends; the main thread consumes. */
  queues: { producers: { queue: string; binding: string; delivery_delay?: number }[] };
  /** `queuesUrl`: queues in NATS instead of `<dataDir>/queues.sqlite`. */
  queuesUrl: string | undefined;
  /** KV namespace bindings, opened on this thread on `<dataDir>/kv.sqlite`. */
  kvNamespaces: { binding: string; id?: string }[];
  /** R2 bucket bindings, opened on this thread on `<dataDir>/r2.sqlite` and `r2-blobs/`. */
  r2Buckets: { binding: string; bucket_name?: string }[];
  /** D1 database bindings; their databases are objects of the D1 class's namespace. */
  d1Databases: { binding: string; database_name?: string; database_id?: string }[];
  /** Rate Limiting bindings (`ratelimits`): this thread keeps its own counters. */
  ratelimits: {
    name: string;
    namespace_id: string | number;
    simple: { limit: number; period: 10 | 60 };
  }[];
  /** Service bindings to the Worker's own entrypoints (`services`), props structured-cloned. */
  services: { binding: string; entrypoint?: string; props?: unknown }[];
  namespaces: ShardNamespace[];
  limits: ObjectLimits;
  /** This thread's share of the name cache, in bytes. */
  nameCacheBytes: number;
  /** Send the app's `console` lines to the main thread (the runtime has `onConsole`). */
  captureConsole: boolean;
  /** A BigInt64 slot where the shard writes `nowUs()` as its event loop turns (the watchdog reads it). */
  heartbeat: SharedArrayBuffer;
  /** The cluster node this process is, when it is one: the shard claims objects for it. */
  cluster: ShardCluster | undefined;
}

/** A cluster node's identity as its object threads use it. */
export interface ShardCluster {
  node: string;
  address: string;
  incarnation: number;
  leaseMs: number;
  secret: string;
  /** Until when the node may serve (`LeaseDeadline`'s buffer; the main thread keeps the lease). */
  deadline: SharedArrayBuffer;
}

/** A namespace as a shard builds it. */
export interface ShardNamespace {
  storageName: string;
  className: string;
  uniqueKey: string;
  backend: "sqlite" | "kv";
}

/** How often a shard's event loop writes its heartbeat (ms). */
export const HEARTBEAT_MS = 25;

/** Wall-clock µs, comparable between threads (each thread's `performance` has its own origin). */
export function nowUs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

/** The thread number of the main thread, where references it keeps are looked up. */
export const MAIN_THREAD = -1;

/** The shard that owns object `id` (64 hex digits). */
export function shardOf(id: string, shards: number): number {
  return Number.parseInt(id.slice(0, 8), 16) % shards;
}
