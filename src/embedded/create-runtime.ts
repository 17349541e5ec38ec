import type { ResolvedAssets } from "../bindings/assets/index.ts";
import { D1_CLASS_NAME } from "../bindings/d1/index.ts";
import { callQueue, type MessageBatch } from "../bindings/queues/index.ts";
import { serviceEntrypointProblems } from "../bindings/services/index.ts";
import { AlarmScheduler } from "../core/alarms/alarm-scheduler.ts";
import { systemClock } from "../core/clock.ts";
import { captureConsole } from "../core/console-capture.ts";
import { SteadError } from "../core/errors.ts";
import type { ChangeFeed } from "../core/feed/change-feed.ts";
import { installFetchGate } from "../core/gates/outgoing-fetch.ts";
import { installWorkersGlobals } from "../core/globals/workers-globals.ts";
import { NameCache } from "../core/ids/name-cache.ts";
import { DEFAULT_NAME_CACHE_BYTES } from "../core/ids/object-id.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import { DurableObjectNamespace } from "../core/object/namespace.ts";
import { Residency } from "../core/object/residency.ts";
import type { NamespaceRecord, StorageDriver } from "../core/storage/driver.ts";
import { addRuntimeScope, runInScope, type WorkerScope } from "../core/worker-scope.ts";
import { maxOpenDatabases, openFileLimit } from "../drivers/local/open-file-limit.ts";
import { withAppConfig } from "./app-config.ts";
import { type AppEntry, loadAppEntry } from "./app-entry.ts";
import { addBindings, resolveAssetOptions } from "./bindings.ts";
import { ClusterNode } from "./cluster-node.ts";
import { startFeed } from "./feed-setup.ts";
import { buildControllers, deferBindings } from "./namespaces.ts";
import { localHosting, type ObjectHosting, threadHosting } from "./object-hosting.ts";
import { checkQueueHandler } from "./queues.ts";
import { registerRuntimeAdmin } from "./runtime-admin.ts";
import { bareClasses, withRuntimeClasses } from "./runtime-classes.ts";
import {
  DEFAULT_LIMITS,
  parseRuntimeOptions,
  type ResolvedRuntimeOptions,
  type RuntimeOptions,
} from "./runtime-options.ts";
import {
  checkBindingOptions,
  checkThreadOptions,
  classBindings,
  prepareNamespaces,
} from "./runtime-setup.ts";
import { durabilityOptions, historyOptions, openStore, type Store } from "./store.ts";
import { fillWorkerExports } from "./worker-exports.ts";
import { type Runtime, trackWaitUntil, workerContext, workerRuntime } from "./worker-runtime.ts";

export type { Runtime };

/** Default CPU limit per event, as on Cloudflare (`limits.cpu_ms`). */
const DEFAULT_CPU_LIMIT_MS = 30_000;

/**
 * Starts a runtime in this process.
 *
 * @example
 * await using rt = await createRuntime({
 *   main: "./worker.js",
 *   durableObjects: { COUNTER: "Counter" },
 * });
 * const n = await rt.env.COUNTER.getByName("a").increment();
 *
 * @example
 * // An app as `stead start` runs it, from its wrangler config:
 * await using rt = await createRuntime({ config: new URL("..", import.meta.url) });
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  return createRuntimeWith(await withAppConfig(options), {});
}

/** What Stead's own CLI passes to a runtime beyond the public options. */
export interface RuntimeInternals {
  /** The URL of a bundle of `main` built by another process (`stead dev`), imported as it is. */
  prebuilt?: string;
  /**
   * Opened for Stead's tools (`stead objects` on a data directory): every recorded class is
   * hosted with a bare class, so objects' storage is reachable and no app code runs.
   */
  toolsOnly?: boolean;
}

/** `createRuntime` with internal options; not exported from the package. */
export async function createRuntimeWith(
  options: Omit<RuntimeOptions, "config">,
  internals: RuntimeInternals,
): Promise<Runtime> {
  const config = parseRuntimeOptions(options);
  checkThreadOptions(config);
  checkBindingOptions(config);
  const compatibilityDate = config.compatibilityDate ?? new Date().toISOString().slice(0, 10);
  const onError = config.onError ?? defaultOnError;
  const assets = resolveAssetOptions(
    config.assets,
    config.cwd ?? process.cwd(),
    compatibilityDate,
    config.compatibilityFlags ?? [],
  );
  installFetchGate();
  installWorkersGlobals();
  // What a failed start undoes, last step first; a started runtime disposes them itself.
  const undo = new AsyncDisposableStack();
  const releaseConsole =
    config.onConsole === undefined ? () => {} : captureConsole(config.onConsole);
  // The app's top-level code sees every binding through `env` of cloudflare:workers while it
  // loads; Durable Object namespaces start working once its classes are known.
  const env: Record<string, any> = { ...config.vars };
  const bindings = deferBindings(env, classBindings(config));
  const extra = addBindings(env, {
    assets,
    kvNamespaces: config.kv_namespaces ?? [],
    services: config.services ?? [],
    r2Buckets: config.r2_buckets ?? [],
    d1Databases: config.d1_databases ?? [],
    ratelimits: config.ratelimits ?? [],
    sweepR2: true,
    queues: {
      options: config.queues,
      url: config.queuesUrl,
      compatibilityDate,
      compatibilityFlags: config.compatibilityFlags ?? [],
      consumerSide: true,
    },
    clock: config.clock ?? systemClock,
    warn: (message) => onError(new Error(message), "assets"),
  });
  const exports: Record<string, unknown> = {};
  const waitUntil = trackWaitUntil(onError);
  const scope: WorkerScope = { env, exports };
  const removeRuntimeScope = addRuntimeScope(scope);
  // Undone when the runtime stops (or fails to start): its scope, and the console capture.
  const removeScope = () => {
    removeRuntimeScope();
    releaseConsole();
  };
  undo.defer(removeScope);
  let scheduler: AlarmScheduler | undefined;
  let hosting: ObjectHosting | undefined;
  let runtime: Runtime | undefined;
  try {
    const app = await runInScope(scope, () => loadAppEntry(config, internals.prebuilt));
    undo.defer(() => app.dispose());
    const serviceProblems = serviceEntrypointProblems(config.services ?? [], app.module);
    if (serviceProblems.length > 0) {
      throw new SteadError(
        "INVALID_CONFIG",
        formatOptionProblems(config.configPath ?? "createRuntime()", serviceProblems),
      );
    }
    checkQueueHandler(config.queues, app.module.default, config.configPath ?? "createRuntime()");
    extra.serve(app.module, (props) => workerContext(waitUntil.track, exports, props));
    const store = await openStore(config);
    undo.defer(() => store.abort());
    extra.open(store.dataDir!);
    undo.defer(() => extra.close());
    await extra.openQueues(store.dataDir!);
    const node =
      store.cluster === undefined
        ? undefined
        : new ClusterNode(
            config.cluster!,
            store.cluster,
            (error) => hosting?.resetAll(error),
            (error) => onError(error, "cluster"),
            () => (config.cluster!.onDrain ?? (() => void runtime?.dispose()))(),
          );
    if (node !== undefined) undo.defer(() => node.abandon());
    const records = await prepareNamespaces(config, app.module, store.driver);
    const classes = internals.toolsOnly === true ? bareClasses(records) : app.module;
    // Tools open a data directory to read it; a feed is a server's.
    const feed =
      config.feed === undefined || internals.toolsOnly === true
        ? undefined
        : await startFeed(config.feed, records, config.clock ?? systemClock, onError);
    const hosted = await hostObjects(
      config,
      app,
      classes,
      records,
      store,
      env,
      exports,
      assets,
      node,
      {
        alarmIndexChanged: () => scheduler?.changed(),
        onError,
        ...(feed === undefined ? {} : { feedFor: (storageName) => feed.feedFor(storageName) }),
      },
    );
    if (feed !== undefined) {
      const dispose = hosted.dispose;
      // The feed ships what the last commits recorded before its sinks close.
      hosted.dispose = async () => {
        await dispose();
        await feed.close();
      };
      undo.defer(() => feed.close(0));
    }
    hosting = hosted;
    undo.defer(() => hosted.dispose());
    await node?.listen(hosted.deliverForwarded);
    for (const { binding, className } of classBindings(config)) {
      const storageName = records.find((record) => record.className === className)!.storageName;
      bindings.get(binding)!.resolve(hosted.route(storageName)!);
    }
    const d1 = records.find((record) => record.className === D1_CLASS_NAME);
    extra.hostD1(d1 === undefined ? undefined : hosted.route(d1.storageName));
    const namespaces = new Map<string, DurableObjectNamespace>();
    for (const record of records) {
      const route = hosted.route(record.storageName);
      if (route !== undefined) namespaces.set(record.className, new DurableObjectNamespace(route));
    }
    fillWorkerExports(exports, app.module, env, namespaces, () =>
      workerContext(waitUntil.track, exports),
    );
    // A runtime for the tools delivers no alarm: its bare classes have no alarm() handler, and
    // delivering one to them would drop it from the index.
    scheduler =
      internals.toolsOnly === true
        ? undefined
        : await startAlarms(store.driver, config, hosted, onError);
    runtime = workerRuntime(
      app,
      scope,
      waitUntil,
      store,
      hosted,
      scheduler,
      extra,
      node,
      removeScope,
    );
    registerRuntimeAdmin(runtime, { config, records, store, hosted, scheduler, feed });
    if (feed !== undefined) {
      feed.attach({
        route: (storageName) => hosted.route(storageName),
        listObjects: (storageName) => store.driver.listObjects(storageName),
      });
      // In the background: the runtime serves while earlier commits are shipped.
      void feed.catchUp();
    }
    if (internals.toolsOnly !== true) {
      extra.queues.consume(
        (batch) => deliverBatch(app.module.default, batch, env, exports),
        (message, error) =>
          onError(
            error === undefined ? new Error(message) : new Error(message, { cause: error }),
            "queues",
          ),
      );
    }
    undo.move();
    return runtime;
  } catch (error) {
    extra.fail(error);
    await undo.disposeAsync().catch(() => {});
    throw error;
  }
}

/** Every recorded class the module exports gets a namespace, bound or not, so its alarms run. */
async function hostObjects(
  config: ResolvedRuntimeOptions,
  app: AppEntry,
  classes: Record<string, unknown>,
  records: NamespaceRecord[],
  store: Store,
  env: Record<string, unknown>,
  exports: Record<string, unknown>,
  assets: ResolvedAssets | undefined,
  node: ClusterNode | undefined,
  hooks: {
    alarmIndexChanged(): void;
    onError(error: unknown, context: string): void;
    feedFor?: (storageName: string) => ChangeFeed | undefined;
  },
): Promise<ObjectHosting> {
  const module = withRuntimeClasses(classes);
  const limits = { ...DEFAULT_LIMITS, ...config.objects };
  const compatibilityDate = config.compatibilityDate ?? new Date().toISOString().slice(0, 10);
  const threads = config.threads ?? 0;
  const nameCacheBytes = config.nameCacheBytes ?? DEFAULT_NAME_CACHE_BYTES;
  if (threads === 0) {
    return localHosting(
      buildControllers({
        module,
        records,
        env,
        exports,
        driver: store.driver,
        clock: config.clock ?? systemClock,
        limits,
        residency: new Residency(limits.maxActive),
        names: new NameCache(nameCacheBytes),
        compatibilityDate,
        ...hooks,
        ...(node === undefined ? {} : { forwarder: node.forwarder, refuse: node.refuse }),
      }),
      records,
    );
  }
  const exported = (className: string) => typeof module[className] === "function";
  const bindings: Record<string, string> = {};
  for (const { binding, className } of classBindings(config)) {
    bindings[binding] = records.find((record) => record.className === className)!.storageName;
  }
  const { feedFor: _feedFor, ...threadHooks } = hooks;
  return threadHosting(records, exported, new NameCache(nameCacheBytes), {
    shards: threads,
    cpuLimitMs: config.cpuLimitMs ?? DEFAULT_CPU_LIMIT_MS,
    data: {
      // The bundle this thread imported: every thread runs the same build.
      main: app.url!,
      cwd: config.cwd ?? process.cwd(),
      dataDir: store.dataDir!,
      storage: config.storage,
      feed: config.feed,
      // The process-wide bound (the driver's default derives it from the open-file limit).
      maxOpenDatabases: shareOf(
        maxOpenDatabases(config.maxOpenDatabases, openFileLimit()),
        threads,
      ),
      historyRetentionMs: historyOptions(config).historyRetentionMs,
      durability: durabilityOptions(config),
      compatibilityDate,
      compatibilityFlags: config.compatibilityFlags ?? [],
      vars: config.vars ?? {},
      bindings,
      assets,
      queues: { producers: config.queues?.producers ?? [] },
      queuesUrl: config.queuesUrl,
      kvNamespaces: config.kv_namespaces ?? [],
      services: config.services ?? [],
      r2Buckets: config.r2_buckets ?? [],
      d1Databases: config.d1_databases ?? [],
      ratelimits: config.ratelimits ?? [],
      namespaces: records.filter((record) => exported(record.className)),
      limits: { ...limits, maxActive: Math.max(1, Math.ceil(limits.maxActive / threads)) },
      nameCacheBytes: Math.floor(nameCacheBytes / (threads + 1)),
      captureConsole: config.onConsole !== undefined,
      cluster: node?.shardData(),
    },
    ...threadHooks,
    ...(config.onConsole === undefined ? {} : { onConsole: config.onConsole }),
    onStuck: (error) => hooks.onError(error, "object threads"),
  });
}

/** One thread's share of a process-wide bound. */
function shareOf(total: number, threads: number): number {
  return Math.max(1, Math.floor(total / threads));
}

async function startAlarms(
  driver: StorageDriver,
  config: ResolvedRuntimeOptions,
  hosting: ObjectHosting,
  onError: (error: unknown, context: string) => void,
): Promise<AlarmScheduler> {
  const scheduler = new AlarmScheduler(
    driver.alarms,
    config.clock ?? systemClock,
    async (record) => {
      // Failing (not dropping) keeps the alarm: retried, then dead-lettered where operators look.
      if (hosting.route(record.namespace) === undefined) {
        return {
          kind: "failed",
          error: new Error(
            `The alarm of object ${record.id} belongs to class storage "${record.namespace}", whose class the entry module no longer exports. Export the class again, or remove it with a deleted_classes migration.`,
          ),
        };
      }
      return hosting.deliverAlarm(record);
    },
    (error, record) =>
      onError(
        error,
        record === undefined ? "alarm index" : `alarm of ${record.namespace} ${record.id}`,
      ),
  );
  await scheduler.start();
  return scheduler;
}

/**
 * Runs the Worker's `queue` handler with one batch, as an event of its own: its `ctx.waitUntil`
 * promises are waited for before the batch's messages are settled, as workerd does.
 */
async function deliverBatch(
  entrypoint: unknown,
  batch: MessageBatch,
  env: Record<string, unknown>,
  exports: Record<string, unknown>,
): Promise<void> {
  const pending: Promise<unknown>[] = [];
  const waitUntil = (promise: Promise<unknown>) => void pending.push(promise);
  const ctx = workerContext(waitUntil, exports);
  try {
    await runInScope({ env, exports, waitUntil }, () => callQueue(entrypoint, batch, env, ctx));
  } finally {
    await Promise.allSettled(pending);
  }
}

function defaultOnError(error: unknown, context: string): void {
  console.error(`[stead] ${context}:`, error);
}
