import type { Clock } from "../clock.ts";
import type { ChangeFeed } from "../feed/change-feed.ts";
import type { ObjectCounters } from "../metrics/object-counters.ts";
import type { AlarmRecord, StorageDriver } from "../storage/driver.ts";
import type { StorageBackend } from "../storage/kv-limits.ts";
import type { WebSocketEvent } from "../websocket/hibernatable-web-sockets.ts";
import type { AdminRequest } from "./object-admin.ts";
import type { ObjectHost } from "./object-host.ts";
import type { DurableObjectState } from "./object-state.ts";
import type { Residency } from "./residency.ts";

/** Per-object limits. */
export interface ObjectLimits {
  /** Evict an object after this long with nothing to do (ms). */
  idleTimeoutMs: number;
  /**
   * Hibernate an object after this long with nothing to do but hibernatable WebSockets (ms):
   * the instance leaves memory, the sockets stay open.
   */
  hibernateAfterMs: number;
  /** Fail new events fast once this many wait for the object. */
  maxQueuedEvents: number;
  /** Fail queued events that waited longer than this (ms). */
  maxQueueAgeMs: number;
  /** `blockConcurrencyWhile` callbacks running longer than this reset the object (ms). */
  blockConcurrencyTimeoutMs: number;
  /**
   * Objects in memory at once, across namespaces; past it, the least recently active idle ones
   * leave memory early. Each resident object holds an open SQLite database (~200 KiB, 3 files).
   */
  maxActive: number;
  /**
   * Largest an object's database may grow, in bytes (Cloudflare: 10 GB per object). A write
   * that would pass it fails with `database or disk is full: SQLITE_FULL`: the turn's
   * transaction rolls back and the object is reset, as on workerd; earlier commits stay.
   */
  maxDatabaseBytes: number;
}

/** What an object needs from its namespace. */
export interface ObjectClass {
  /** The storage namespace (directory) of the class. */
  readonly namespace: string;
  readonly ctor: new (ctx: DurableObjectState, env: any) => object;
  readonly env: object;
  /** `ctx.exports`: loopback bindings to the module's own entrypoints and classes. */
  readonly exports: object;
  readonly backend: StorageBackend;
  readonly driver: StorageDriver;
  readonly clock: Clock;
  readonly limits: ObjectLimits;
  readonly deleteAllDeletesAlarm: boolean;
  /** Where the class's commits are captured to, when a change feed selected it. */
  readonly feed: ChangeFeed | undefined;
  /** The alarm index changed; the scheduler should re-arm. */
  alarmIndexChanged(): void;
  /** The object left memory; forget the host. */
  evicted(host: ObjectHost): void;
  /** The runtime-wide bound on objects in memory. */
  readonly residency: Residency;
  /** What the namespace's objects did, for metrics. */
  readonly counters: ObjectCounters;
  /** An error nobody else sees (a failed WebSocket event handler), with where it happened. */
  reportError(error: unknown, context: string): void;
}

/** An event delivered to an object. */
export type ObjectEvent =
  | { kind: "rpc"; member: string; args: unknown[] | undefined }
  | { kind: "fetch"; request: Request }
  | {
      kind: "alarm";
      record: AlarmRecord /** Run even if not yet due (test helper). */;
      force?: boolean;
    }
  | { kind: "run"; fn: (instance: any, ctx: DurableObjectState) => unknown }
  /** An operator's request (the admin API): plain data, so it crosses threads and nodes. */
  | { kind: "admin"; request: AdminRequest }
  | WebSocketEvent;
