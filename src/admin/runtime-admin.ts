import type { ObjectRoute } from "../core/object/namespace.ts";
import type { DeadLetterRecord, NamespaceRecord } from "../core/storage/driver.ts";
import type { FeedStatus } from "../feed/feed-status.ts";
import type { MetricFamily } from "./metrics/metric-family.ts";

/** The change feed of a runtime that has one (docs/change-feed.md). */
export interface RuntimeFeed {
  /** Each sink's lag, what waits, and failing objects (this thread's objects). */
  status(): FeedStatus;
  /** Resolves once the catch-up at start is done and nothing waits to be shipped. */
  drained(): Promise<void>;
}

/**
 * What the admin API reaches of a running runtime: its namespaces, its objects (each through
 * the route events take, so an operator's request is an event of the object, on whichever
 * thread or cluster node holds it) and its dead letters. `runtimeAdmin(runtime)` of
 * embedded/ gives a runtime's; a runtime opened for the tools alone (`stead objects` on a data directory)
 * hosts every recorded class with a bare class, so no app code runs.
 */
export interface RuntimeAdmin {
  /** Every namespace recorded in the data directory (or the cluster's database). */
  namespaces(): readonly NamespaceRecord[];
  /** The change feed, when the runtime has one. */
  feed?: RuntimeFeed;
  /** The ids of the objects stored in `storageName`, in no particular order. */
  listObjects(storageName: string): Promise<string[]>;
  /** Whether the object `id` of `storageName` is stored, without listing them all. */
  hasObject(storageName: string, id: string): Promise<boolean>;
  /**
   * The names of the objects `ids` (made by `idFromName`), where the storage knows them;
   * undefined when the driver keeps no names (then objects are listed by id only).
   */
  objectNames?(storageName: string, ids: readonly string[]): Promise<Map<string, string>>;
  /** Where objects are stored: the data directory, PostgreSQL, or a driver the embedder gave. */
  storage: "local" | "postgres" | "driver";
  /** Migration tags applied, in order. */
  appliedMigrations(): string[];
  /**
   * A copy of an object's database read from the storage without the object, when the driver
   * can (`StorageDriver.snapshotObject`); absent otherwise (copies are then taken in an event).
   */
  snapshot?(storageName: string, id: string): Promise<Uint8Array | undefined>;
  /** How events reach the objects of `storageName`; undefined when its class is not hosted. */
  route(storageName: string): ObjectRoute | undefined;
  /** Alarms that failed every retry, newest first (in a cluster, every node's). */
  deadLetters(): Promise<DeadLetterRecord[]>;
  /** The runtime's clock, epoch ms (an injected one in tests). */
  now(): number;
  /** Removes the dead letters of one object, durably. */
  discardDeadLetters(storageName: string, id: string): Promise<void>;
  /**
   * The runtime's metrics: its objects' (one list of families per thread that hosts objects;
   * they are summed when shown) and its alarm scheduler's. `prometheusText` renders them.
   */
  metrics?(): Promise<MetricFamily[][]>;
  /** The cluster node this runtime is, when it is one: its metrics carry it as label `node`. */
  readonly node?: string;
}
