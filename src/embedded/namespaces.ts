import type { NamespaceMetricsSource } from "../admin/metrics/object-families.ts";
import type { Clock } from "../core/clock.ts";
import type { ChangeFeed } from "../core/feed/change-feed.ts";
import type { NameCache } from "../core/ids/name-cache.ts";
import { DeferredRoute } from "../core/object/deferred-route.ts";
import { DurableObjectNamespace, NamespaceController } from "../core/object/namespace.ts";
import type { ObjectLimits } from "../core/object/object-class.ts";
import type { NodeAddress, ObjectForwarder } from "../core/object/object-forwarder.ts";
import type { Residency } from "../core/object/residency.ts";
import type { NamespaceRecord, StorageDriver } from "../core/storage/driver.ts";

/** Behaviour changes keyed by compatibility date. */
const DELETE_ALL_DELETES_ALARM = "2026-02-24";

/** What the namespaces of one thread are built from. */
export interface NamespaceSetup {
  module: Record<string, unknown>;
  records: Iterable<NamespaceRecord>;
  env: object;
  /** `ctx.exports` of every object (filled in once the namespaces exist). */
  exports: object;
  driver: StorageDriver;
  clock: Clock;
  limits: ObjectLimits;
  residency: Residency;
  /** The thread-wide cache of named ids. */
  names: NameCache;
  compatibilityDate: string;
  alarmIndexChanged(): void;
  onError(error: unknown, context: string): void;
  /** Reaches objects other cluster nodes hold (a cluster node only). */
  forwarder?: ObjectForwarder;
  /** The change feed a namespace's commits are captured into, if its class is selected. */
  feedFor?: (storageName: string) => ChangeFeed | undefined;
  /** Refuses events while the cluster node's lease has lapsed (a cluster node only). */
  refuse?: () => Error | Promise<Error | NodeAddress> | undefined;
}

/**
 * One controller per recorded class the module exports, by storage name. A class recorded but no
 * longer exported gets none (its alarms fail where operators see them).
 */
export function buildControllers(setup: NamespaceSetup): Map<string, NamespaceController> {
  const controllers = new Map<string, NamespaceController>();
  for (const record of setup.records) {
    const ctor = setup.module[record.className];
    if (typeof ctor !== "function") continue;
    controllers.set(
      record.storageName,
      new NamespaceController({
        namespace: record.storageName,
        uniqueKey: record.uniqueKey,
        ctor: ctor as never,
        env: setup.env,
        exports: setup.exports,
        backend: record.backend,
        driver: setup.driver,
        clock: setup.clock,
        limits: setup.limits,
        residency: setup.residency,
        names: setup.names,
        deleteAllDeletesAlarm: setup.compatibilityDate >= DELETE_ALL_DELETES_ALARM,
        feed: setup.feedFor?.(record.storageName),
        alarmIndexChanged: setup.alarmIndexChanged,
        onError: setup.onError,
        ...(setup.forwarder === undefined ? {} : { forwarder: setup.forwarder }),
        ...(setup.refuse === undefined ? {} : { refuse: setup.refuse }),
      }),
    );
  }
  return controllers;
}

/** Puts a namespace per binding in `env` now; each works once its route is resolved. */
export function deferBindings(
  env: Record<string, unknown>,
  bindings: Iterable<{ binding: string }>,
): Map<string, DeferredRoute> {
  const routes = new Map<string, DeferredRoute>();
  for (const { binding } of bindings) {
    const route = new DeferredRoute(binding);
    routes.set(binding, route);
    env[binding] = new DurableObjectNamespace(route);
  }
  return routes;
}

/** The controllers' metrics, each named by its class (a class no longer exported has none). */
export function metricsSources(
  records: Iterable<Pick<NamespaceRecord, "storageName" | "className">>,
  controllers: ReadonlyMap<string, NamespaceController>,
): NamespaceMetricsSource[] {
  const sources: NamespaceMetricsSource[] = [];
  for (const { storageName, className } of records) {
    const controller = controllers.get(storageName);
    if (controller !== undefined) {
      sources.push({ className, counters: controller.counters, gauges: () => controller.gauges() });
    }
  }
  return sources;
}
