/**
 * The entry of an object thread (a shard): loads the app, opens the data directory beside the
 * other threads, and runs the objects whose ids map to this shard. Calls arrive from the main
 * thread; calls to objects of other shards go back through it. See `threads/shard-pool.ts`.
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { feedFamilies } from "../admin/metrics/feed-families.ts";
import { journalFamilies } from "../admin/metrics/journal-families.ts";
import { objectFamilies } from "../admin/metrics/object-families.ts";
import type { ResolvedAssets } from "../bindings/assets/index.ts";
import { D1_CLASS_NAME } from "../bindings/d1/index.ts";
import { HttpForwarder } from "../cluster/http-forwarder.ts";
import { LeaseDeadline } from "../cluster/lease-deadline.ts";
import { leaseLapsed } from "../cluster/node-lease.ts";
import { PeerWatch } from "../cluster/peer-watch.ts";
import { systemClock } from "../core/clock.ts";
import { captureConsole } from "../core/console-capture.ts";
import { sendFromCurrent } from "../core/gates/context.ts";
import { installFetchGate } from "../core/gates/outgoing-fetch.ts";
import { installWorkersGlobals } from "../core/globals/workers-globals.ts";
import { NameCache } from "../core/ids/name-cache.ts";
import { DurableObjectId } from "../core/ids/object-id.ts";
import {
  DurableObjectNamespace,
  type NamespaceController,
  type ObjectRoute,
} from "../core/object/namespace.ts";
import { Residency } from "../core/object/residency.ts";
import type { StorageDriver } from "../core/storage/driver.ts";
import { catchUncaughtErrors } from "../core/uncaught-errors.ts";
import { addRuntimeScope, runInScope, type WorkerScope } from "../core/worker-scope.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { PostgresDriver } from "../drivers/postgres/postgres-driver.ts";
import { Handles } from "../threads/handles.ts";
import { answerCall, type CallSender, PendingCalls } from "../threads/remote-call.ts";
import {
  HEARTBEAT_MS,
  nowUs,
  type ShardData,
  shardOf,
  type ToShard,
} from "../threads/shard-protocol.ts";
import { fromWireError, toWireError } from "../threads/wire.ts";
import { addBindings } from "./bindings.ts";
import { startFeed } from "./feed-setup.ts";
import { loadEntryModule } from "./module-loader.ts";
import { buildControllers, deferBindings, metricsSources } from "./namespaces.ts";
import { withRuntimeClasses } from "./runtime-classes.ts";
import { fillWorkerExports } from "./worker-exports.ts";

const data = workerData as ShardData;
const cluster = data.cluster;
const deadline = cluster === undefined ? undefined : new LeaseDeadline(cluster.deadline);

/** Connections to PostgreSQL per object thread: appends of one object are merged, one in flight. */
const SHARD_POSTGRES_CONNECTIONS = 6;
const port = parentPort as MessagePort;

// The main thread's watchdog reads this: a heartbeat that stops means a blocked event loop.
const beat = new BigInt64Array(data.heartbeat);
const heartbeat = () => Atomics.store(beat, 0, nowUs());
heartbeat();
setInterval(heartbeat, HEARTBEAT_MS).unref();

// An object's stray error is logged as workerd logs it, and the thread's other objects go on;
// any other ends the thread, which the main thread starts again (its objects are reset).
catchUncaughtErrors({
  app: (entry) =>
    data.captureConsole
      ? port.postMessage({ t: "console", entry })
      : process.stderr.write(`${entry.text}\n`),
  own: (error) => {
    port.postMessage({
      t: "error",
      error: toWireError(error),
      context: `object thread ${data.shard}`,
    });
    process.exit(1);
  },
});

try {
  await start();
} catch (error) {
  port.postMessage({ t: "failed", error: toWireError(error) });
}

async function start(): Promise<void> {
  installFetchGate();
  installWorkersGlobals();
  if (data.captureConsole) {
    captureConsole((entry) => port.postMessage({ t: "console", entry }));
  }
  // This thread's own bindings: what `env` of cloudflare:workers means in its code.
  const env: Record<string, unknown> = { ...data.vars };
  const bindings = deferBindings(
    env,
    Object.keys(data.bindings).map((binding) => ({ binding })),
  );
  const extra = addBindings(env, {
    assets: data.assets as ResolvedAssets | undefined,
    kvNamespaces: data.kvNamespaces,
    services: data.services,
    r2Buckets: data.r2Buckets,
    d1Databases: data.d1Databases,
    ratelimits: data.ratelimits,
    // The main thread removed what a crash left before any thread started.
    sweepR2: false,
    queues: {
      options: data.queues,
      url: data.queuesUrl,
      compatibilityDate: data.compatibilityDate,
      compatibilityFlags: data.compatibilityFlags,
      consumerSide: false,
    },
    clock: systemClock,
    // The main thread reports problems in _headers and _redirects once.
    warn: () => {},
  });
  const exports: Record<string, unknown> = {};
  const scope: WorkerScope = { env, exports };
  addRuntimeScope(scope);
  const module = await runInScope(scope, () => loadEntryModule(data.main, data.cwd));
  extra.open(data.dataDir);
  await extra.openQueues(data.dataDir);
  const driver = await openDriver();
  const onError = (error: unknown, context: string) =>
    port.postMessage({ t: "error", error: toWireError(error), context });
  // This thread ships the commits of the objects it hosts; the main thread's catch-up reaches
  // them through their routes.
  const feed =
    data.feed === undefined
      ? undefined
      : await startFeed(data.feed, data.namespaces, systemClock, onError);
  const routes = new Map<string, ObjectRoute>();
  const handles = new Handles({
    thread: data.shard,
    route: (namespace) => routes.get(namespace),
    // Every other thread is reached through the main thread.
    call: (ref, member, args) => calls.sendHandle(port, ref, member, args),
    release: (ref) => port.postMessage({ t: "release", ...ref }),
  });
  const calls = new PendingCalls(handles);
  const sender: CallSender = (namespace, id, event) => calls.send(port, namespace, id, event);
  const controllers = buildControllers({
    module: withRuntimeClasses(module),
    records: data.namespaces,
    env,
    exports,
    driver,
    clock: systemClock,
    limits: data.limits,
    residency: new Residency(data.limits.maxActive),
    names: new NameCache(data.nameCacheBytes),
    compatibilityDate: data.compatibilityDate,
    alarmIndexChanged: () => port.postMessage({ t: "alarmIndexChanged" }),
    ...(cluster === undefined
      ? {}
      : {
          forwarder: new HttpForwarder(
            cluster.node,
            cluster.secret,
            new PeerWatch(driver.cluster!, cluster.leaseMs / 4),
          ),
          refuse: () => (deadline!.serving ? undefined : leaseLapsed(cluster.node)),
        }),
    onError,
    ...(feed === undefined ? {} : { feedFor: (storageName) => feed.feedFor(storageName) }),
  });
  feed?.attach({
    route: (storageName) => controllers.get(storageName),
    listObjects: (storageName) => driver.listObjects(storageName),
  });
  for (const [storageName, controller] of controllers) {
    routes.set(storageName, shardRoute(controller, sender));
  }
  for (const [binding, storageName] of Object.entries(data.bindings)) {
    bindings.get(binding)!.resolve(routes.get(storageName)!);
  }
  const d1 = data.namespaces.find((record) => record.className === D1_CLASS_NAME);
  extra.hostD1(d1 === undefined ? undefined : routes.get(d1.storageName));
  const namespaces = new Map<string, DurableObjectNamespace>();
  for (const record of data.namespaces) {
    namespaces.set(record.className, new DurableObjectNamespace(routes.get(record.storageName)!));
  }
  // Entrypoints called from an object run on this thread; their waitUntil has no request to extend.
  const newContext = (props: unknown) => ({
    waitUntil: (promise: Promise<unknown>) => {
      Promise.resolve(promise).catch((error: unknown) =>
        port.postMessage({ t: "error", error: toWireError(error), context: "waitUntil" }),
      );
    },
    passThroughOnException() {},
    props,
    exports,
  });
  fillWorkerExports(exports, module, env, namespaces, () => newContext({}));
  extra.serve(module, newContext);

  port.on("message", (message: ToShard) => {
    switch (message.t) {
      case "call": {
        const handle = message.handle;
        if (handle !== undefined) {
          answerCall(port, message, (event) => handles.invoke(handle, event), handles);
          return;
        }
        const controller = controllers.get(message.namespace);
        const id = new DurableObjectId(message.id, message.name, message.jurisdiction);
        answerCall(
          port,
          message,
          (event) =>
            controller === undefined
              ? Promise.reject(new Error(`No class has storage "${message.namespace}".`))
              : controller.deliver(id, event, message.forwarded === true),
          handles,
        );
        return;
      }
      case "release":
        handles.release(message.handle);
        return;
      case "result":
        calls.settle(message);
        return;
      case "metrics": {
        const families = [
          ...objectFamilies(metricsSources(data.namespaces, controllers)),
          // This thread's sinks; the main thread sums them by sink (the lag: the largest).
          ...(feed === undefined ? [] : feedFamilies(feed.status())),
          ...journalFamilies(driver.journalStats?.()),
        ];
        port.postMessage({ t: "metrics", request: message.request, families });
        return;
      }
      case "reset": {
        const error = fromWireError(message.error);
        for (const controller of controllers.values()) controller.resetAll(error);
        return;
      }
      case "dispose":
        dispose().then(
          () => port.postMessage({ t: "disposed" }),
          (error: unknown) => {
            port.postMessage({ t: "error", error: toWireError(error), context: "shutdown" });
            port.postMessage({ t: "disposed" });
          },
        );
    }
  });

  async function dispose(): Promise<void> {
    // Let commits scheduled for the end of this turn run before closing.
    await new Promise((resolve) => setImmediate(resolve));
    for (const controller of controllers.values()) controller.closeAll();
    await feed?.close();
    await extra.close();
    await driver.close();
  }

  port.postMessage({ t: "ready" });
}

/** This shard's objects are called here; the others through the main thread. */
/** The thread's own driver on the storage the main thread opened, whose lock it holds. */
async function openDriver(): Promise<StorageDriver> {
  if (data.storage !== undefined) {
    return PostgresDriver.connect({
      url: data.storage,
      dataDir: data.dataDir,
      lock: "held",
      maxOpenDatabases: data.maxOpenDatabases,
      maxConnections: SHARD_POSTGRES_CONNECTIONS,
      ...(data.historyRetentionMs === undefined
        ? {}
        : { historyRetentionMs: data.historyRetentionMs }),
      // The scheduler runs on the main thread and reads the index from PostgreSQL.
      onAlarmsShipped: () => port.postMessage({ t: "alarmIndexChanged" }),
      ...(cluster === undefined
        ? {}
        : {
            cluster: {
              node: cluster.node,
              address: cluster.address,
              leaseMs: cluster.leaseMs,
              incarnation: cluster.incarnation,
              serving: () => deadline!.serving,
            },
          }),
    });
  }
  return new LocalDriver({
    dataDir: data.dataDir,
    maxOpenDatabases: data.maxOpenDatabases,
    ...(data.historyRetentionMs === undefined
      ? {}
      : { historyRetentionMs: data.historyRetentionMs }),
    ...data.durability,
    sharedControl: true,
    lock: "held",
  });
}

function shardRoute(local: NamespaceController, sender: CallSender): ObjectRoute {
  return {
    namespace: local.namespace,
    ids: local.ids,
    checkId: (id) => local.checkId(id),
    send: (id, event) =>
      shardOf(id.toString(), data.shards) === data.shard
        ? local.send(id, event)
        : sendFromCurrent(() => sender(local.namespace, id, event)),
  };
}
