import type { MetricFamily } from "../admin/metrics/metric-family.ts";
import { objectFamilies } from "../admin/metrics/object-families.ts";
import type { AlarmOutcome } from "../core/alarms/run-alarm.ts";
import type { NameCache } from "../core/ids/name-cache.ts";
import { DurableObjectId, IdFactory } from "../core/ids/object-id.ts";
import type { NamespaceController, ObjectRoute } from "../core/object/namespace.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import { siblingModule } from "../core/sibling-module.ts";
import type { AlarmRecord, NamespaceRecord } from "../core/storage/driver.ts";
import { Handles } from "../threads/handles.ts";
import { threadRoute } from "../threads/remote-call.ts";
import { ShardPool, type ShardPoolOptions } from "../threads/shard-pool.ts";
import { MAIN_THREAD } from "../threads/shard-protocol.ts";
import { metricsSources } from "./namespaces.ts";

/** Where a runtime's objects run: on this thread, or on object threads. */
export interface ObjectHosting {
  /** How stubs of the class stored as `storageName` reach its objects; undefined if unexported. */
  route(storageName: string): ObjectRoute | undefined;
  /** Delivers a due alarm to its object, waking it (its class has a route). */
  deliverAlarm(record: AlarmRecord): Promise<AlarmOutcome>;
  /** Delivers an event another cluster node forwarded here, never sending it on. */
  deliverForwarded(namespace: string, id: DurableObjectId, event: ObjectEvent): Promise<unknown>;
  /** Discards every live object, failing its outputs with `error` (the node lost its lease). */
  resetAll(error: Error): void;
  /**
   * Resolves once no object has events queued or running, or at `deadline` (`performance.now()`
   * ms). Objects on object threads finish theirs when the threads are disposed.
   */
  settle(deadline: number): Promise<void>;
  /** The metrics of the objects, one list of families per thread that hosts them. */
  objectMetrics(): Promise<MetricFamily[][]>;
  /** Lets in-flight writes finish and closes every object. */
  dispose(): Promise<void>;
}

/** Objects on this thread, one controller per namespace. */
export function localHosting(
  controllers: Map<string, NamespaceController>,
  records: readonly NamespaceRecord[],
): ObjectHosting {
  return {
    route: (storageName) => controllers.get(storageName),
    deliverAlarm: (record) => controllers.get(record.namespace)!.deliverAlarm(record),
    deliverForwarded: (namespace, id, event) => {
      const controller = controllers.get(namespace);
      if (controller === undefined) return Promise.reject(noClass(namespace));
      return controller.deliver(id, event, true);
    },
    resetAll: (error) => {
      for (const controller of controllers.values()) controller.resetAll(error);
    },
    async settle(deadline) {
      const busy = () => [...controllers.values()].some((controller) => controller.busy);
      // Shutdown only: a short poll, bounded by the deadline.
      while (busy() && performance.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    objectMetrics: async () => [objectFamilies(metricsSources(records, controllers))],
    async dispose() {
      // Let commits scheduled for the end of this turn run before closing.
      await new Promise((resolve) => setImmediate(resolve));
      for (const controller of controllers.values()) controller.closeAll();
    },
  };
}

/** Objects on `shards` worker threads; calls reach them through the pool. */
export async function threadHosting(
  records: NamespaceRecord[],
  exported: (className: string) => boolean,
  names: NameCache,
  options: Omit<ShardPoolOptions, "entry" | "handles">,
): Promise<ObjectHosting> {
  const routes = new Map<string, ObjectRoute>();
  // Functions and RpcTargets cross between this thread and the shards by reference.
  let pool: ShardPool | undefined;
  const handles = new Handles({
    thread: MAIN_THREAD,
    route: (namespace) => routes.get(namespace),
    call: (ref, member, args) => pool!.callHandle(ref, member, args),
    release: (ref) => pool?.release(ref),
  });
  pool = await ShardPool.start({
    ...options,
    handles,
    entry: siblingModule("object-thread", import.meta.url),
  });
  const started = pool;
  for (const record of records) {
    if (!exported(record.className)) continue;
    routes.set(
      record.storageName,
      threadRoute(
        record.storageName,
        new IdFactory(record.uniqueKey, names),
        (namespace, id, event) => pool.call(namespace, id, event),
      ),
    );
  }
  return {
    route: (storageName) => routes.get(storageName),
    deliverAlarm: (record) =>
      started.call(record.namespace, new DurableObjectId(record.id, record.name), {
        kind: "alarm",
        record,
      }) as Promise<AlarmOutcome>,
    deliverForwarded: (namespace, id, event) =>
      routes.has(namespace)
        ? started.call(namespace, id, event, true)
        : Promise.reject(noClass(namespace)),
    resetAll: (error) => started.resetAll(error),
    settle: async () => {},
    // Each thread answers with `objectFamilies` of its own objects (object-thread.ts).
    objectMetrics: async () => (await started.metrics()) as MetricFamily[][],
    dispose: () => started.dispose(),
  };
}

function noClass(namespace: string): Error {
  return new Error(
    `No exported class has storage "${namespace}" on this cluster node; every node must run the same app.`,
  );
}
