// What Stead's admin API and tools reach of a runtime: its namespaces, its objects (through the
// routes events take), its dead letters, snapshots and metrics.
import { alarmFamilies } from "../admin/metrics/alarm-families.ts";
import { feedFamilies } from "../admin/metrics/feed-families.ts";
import { journalFamilies } from "../admin/metrics/journal-families.ts";
import type { RuntimeAdmin } from "../admin/runtime-admin.ts";
import type { AlarmScheduler } from "../core/alarms/alarm-scheduler.ts";
import { systemClock } from "../core/clock.ts";
import type { NamespaceRecord } from "../core/storage/driver.ts";
import type { NodeFeed } from "../feed/node-feed.ts";
import type { ObjectHosting } from "./object-hosting.ts";
import type { ResolvedRuntimeOptions } from "./runtime-options.ts";
import type { Store } from "./store.ts";
import type { Runtime } from "./worker-runtime.ts";

const admins = new WeakMap<Runtime, RuntimeAdmin>();

/** What Stead's admin API and tools reach of `runtime` (a runtime `createRuntime` made). */
export function runtimeAdmin(runtime: Runtime): RuntimeAdmin {
  const admin = admins.get(runtime);
  if (admin === undefined) throw new TypeError("Not a runtime made by createRuntime().");
  return admin;
}

/** The parts of a started runtime its admin surface is made of. */
export interface AdminParts {
  config: ResolvedRuntimeOptions;
  records: readonly NamespaceRecord[];
  store: Store;
  hosted: ObjectHosting;
  /** Undefined in a runtime opened for the tools (it delivers no alarms). */
  scheduler: AlarmScheduler | undefined;
  /** The change feed, when the runtime has one. */
  feed: NodeFeed | undefined;
}

/** Makes `runtimeAdmin(runtime)` answer for `runtime`. */
export function registerRuntimeAdmin(runtime: Runtime, parts: AdminParts): void {
  const { config, records, store, hosted, scheduler, feed } = parts;
  const { driver } = store;
  const snapshotObject = driver.snapshotObject?.bind(driver);
  admins.set(runtime, {
    namespaces: () => records,
    storage:
      config.storage !== undefined ? "postgres" : config.driver !== undefined ? "driver" : "local",
    appliedMigrations: () => driver.control.appliedMigrations(),
    ...(snapshotObject === undefined ? {} : { snapshot: snapshotObject }),
    listObjects: (storageName) => driver.listObjects(storageName),
    hasObject: (storageName, id) => driver.hasObject(storageName, id),
    // Names from the driver's record of them (object threads and cluster nodes write the same
    // one), when it keeps one.
    ...(driver.objectNames === undefined
      ? {}
      : { objectNames: (storageName, ids) => driver.objectNames!(storageName, ids) }),
    route: (storageName) => hosted.route(storageName),
    deadLetters: async () => {
      const { alarms } = driver;
      return alarms.shared === undefined ? alarms.deadLetters() : alarms.shared.allDeadLetters();
    },
    now: () => (config.clock ?? systemClock).now(),
    discardDeadLetters: async (storageName, id) => {
      const { alarms } = driver;
      alarms.discardDeadLetters(storageName, id);
      // Local: durable with the control database's next sync; shared: in PostgreSQL now.
      await alarms.shared?.flush();
    },
    ...(config.cluster === undefined ? {} : { node: config.cluster.nodeId }),
    ...(feed === undefined
      ? {}
      : { feed: { status: () => feed.status(), drained: () => feed.drained() } }),
    metrics: async () => {
      const classOf = (storageName: string) =>
        records.find((record) => record.storageName === storageName)?.className ?? storageName;
      const [objects, alarms] = await Promise.all([
        hosted.objectMetrics(),
        alarmFamilies(scheduler!, classOf),
      ]);
      return [
        ...objects,
        alarms,
        ...(feed === undefined ? [] : [feedFamilies(feed.status())]),
        journalFamilies(driver.journalStats?.()),
      ];
    },
  });
}
