import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlarmScheduler } from "../core/alarms/alarm-scheduler.ts";
import type { ExecutionContext } from "../core/base-classes.ts";
import { systemClock } from "../core/clock.ts";
import { SteadError } from "../core/errors.ts";
import { installFetchGate } from "../core/gates/outgoing-fetch.ts";
import { installWorkersGlobals } from "../core/globals/workers-globals.ts";
import { NameCache } from "../core/ids/name-cache.ts";
import { DEFAULT_NAME_CACHE_BYTES } from "../core/ids/object-id.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import { applyMigrationPlan } from "../core/migrations/apply-migrations.ts";
import type { ClassBinding } from "../core/migrations/migration.ts";
import { planMigrations } from "../core/migrations/plan-migrations.ts";
import { DurableObjectNamespace } from "../core/object/namespace.ts";
import { Residency } from "../core/object/residency.ts";
import { callFetch } from "../core/rpc/entrypoint-stub.ts";
import type { DeadLetterRecord, NamespaceRecord, StorageDriver } from "../core/storage/driver.ts";
import { addRuntimeScope, runInScope, type WorkerScope } from "../core/worker-scope.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { maxOpenDatabases, openFileLimit } from "../drivers/local/open-file-limit.ts";
import { type AppEntry, loadAppEntry } from "./app-entry.ts";
import { buildControllers, deferBindings } from "./namespaces.ts";
import { localHosting, type ObjectHosting, threadHosting } from "./object-hosting.ts";
import { DEFAULT_LIMITS, parseRuntimeOptions, type RuntimeOptions } from "./runtime-options.ts";
import { fillWorkerExports } from "./worker-exports.ts";

/** A running Stead runtime, embedded in this process. */
export interface Runtime extends AsyncDisposable {
  /**
   * Calls the entry module's default `fetch` handler. A Request passed alone reaches the Worker
   * as it is (its body moves with it, as with `fetch(request)`); otherwise one is made from the
   * arguments.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The bindings, as the Worker sees them: vars and Durable Object namespaces. */
  readonly env: Record<string, any>;
  /** Where object databases live. */
  readonly dataDir: string | undefined;
  /** Alarms that failed every retry, newest first. */
  alarmDeadLetters(): DeadLetterRecord[];
  /** Stops alarms, lets in-flight writes finish, closes every database. */
  dispose(): Promise<void>;
}

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
 */
export async function createRuntime(options: RuntimeOptions): Promise<Runtime> {
  const config = parseRuntimeOptions(options);
  checkThreadOptions(config);
  installFetchGate();
  installWorkersGlobals();
  // The app's top-level code sees every binding through `env` of cloudflare:workers while it
  // loads; Durable Object namespaces start working once its classes are known.
  const env: Record<string, any> = { ...config.vars };
  const bindings = deferBindings(env, classBindings(config));
  const exports: Record<string, unknown> = {};
  const scope: WorkerScope = { env, exports };
  const removeScope = addRuntimeScope(scope);
  let app: AppEntry;
  let store: Store;
  try {
    app = await runInScope(scope, () => loadAppEntry(config));
  } catch (error) {
    removeScope();
    throw error;
  }
  const module = app.module;
  try {
    store = openStore(config);
  } catch (error) {
    removeScope();
    app.dispose();
    throw error;
  }
  const onError = config.onError ?? defaultOnError;
  const waitUntil = trackWaitUntil(onError);
  let scheduler: AlarmScheduler | undefined;
  let hosting: ObjectHosting;
  try {
    const records = await prepareNamespaces(config, module, store.driver);
    hosting = await hostObjects(config, app, records, store, env, exports, {
      alarmIndexChanged: () => scheduler?.changed(),
      onError,
    });
    for (const { binding, className } of classBindings(config)) {
      const storageName = records.find((record) => record.className === className)!.storageName;
      bindings.get(binding)!.resolve(hosting.route(storageName)!);
    }
    const namespaces = new Map<string, DurableObjectNamespace>();
    for (const record of records) {
      const route = hosting.route(record.storageName);
      if (route !== undefined) namespaces.set(record.className, new DurableObjectNamespace(route));
    }
    fillWorkerExports(exports, module, env, namespaces, () =>
      workerContext(waitUntil.track, exports),
    );
  } catch (error) {
    removeScope();
    await store.abort();
    app.dispose();
    throw error;
  }
  scheduler = startAlarms(store.driver, config, hosting, onError);
  return workerRuntime(app, scope, waitUntil, store, hosting, scheduler, removeScope);
}

/** Options that only make sense with objects on this thread are refused with threads. */
function checkThreadOptions(config: RuntimeOptions): void {
  if ((config.threads ?? 0) === 0) return;
  const problems: string[] = [];
  if (typeof config.main !== "string" && !(config.main instanceof URL)) {
    problems.push(
      "main: must be a path or URL with threads (each object thread imports the module itself)",
    );
  }
  if (config.driver !== undefined) {
    problems.push("driver: object threads use the default local driver; remove driver or threads");
  }
  if (config.clock !== undefined) {
    problems.push("clock: an injected clock cannot reach object threads; remove clock or threads");
  }
  if (problems.length > 0) {
    throw new SteadError("INVALID_CONFIG", formatOptionProblems("createRuntime()", problems));
  }
}

/** The storage driver, and the temporary directory it owns when no data directory was given. */
interface Store {
  readonly driver: StorageDriver;
  readonly dataDir: string | undefined;
  /** Closes the driver (a caller's too) and removes the temporary directory. */
  close(): Promise<void>;
  /** Start-up failed: closes what the runtime opened itself; a caller's driver stays open. */
  abort(): Promise<void>;
}

function openStore(config: RuntimeOptions): Store {
  if (config.driver !== undefined && config.maxOpenDatabases !== undefined) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        "maxOpenDatabases: applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, maxOpenDatabases }).",
      ]),
    );
  }
  if (
    config.dataDirLock !== undefined &&
    (config.driver !== undefined || config.dataDir === undefined)
  ) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        `dataDirLock: ${config.driver !== undefined ? "applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, lock })" : "needs dataDir, the directory it locks"}.`,
      ]),
    );
  }
  if (config.driver !== undefined) {
    const driver = config.driver;
    return { driver, dataDir: config.dataDir, close: () => driver.close(), abort: async () => {} };
  }
  const temporaryDir =
    config.dataDir === undefined ? mkdtempSync(join(tmpdir(), "stead-")) : undefined;
  const dataDir = config.dataDir ?? temporaryDir!;
  const removeTemporary = () => {
    if (temporaryDir !== undefined) rmSync(temporaryDir, { recursive: true, force: true });
  };
  let driver: StorageDriver;
  try {
    driver = defaultDriver(dataDir, config);
  } catch (error) {
    removeTemporary();
    throw error;
  }
  const close = async () => {
    await driver.close();
    removeTemporary();
  };
  return { driver, dataDir, close, abort: () => close().catch(() => {}) };
}

function classBindings(config: RuntimeOptions): ClassBinding[] {
  return Object.entries(config.durableObjects ?? {}).map(([binding, spec]) => ({
    binding,
    className: typeof spec === "string" ? spec : spec.className,
    backend: typeof spec === "object" && spec.storage === "kv" ? "kv" : "sqlite",
  }));
}

/**
 * Plans the migrations (which changes nothing), checks that the module exports every bound
 * class, and only then applies them. Resolves to every recorded namespace.
 */
async function prepareNamespaces(
  config: RuntimeOptions,
  module: Record<string, unknown>,
  driver: StorageDriver,
): Promise<NamespaceRecord[]> {
  const bindings = classBindings(config);
  const plan = planMigrations({
    records: driver.control.namespaces(),
    applied: driver.control.appliedMigrations(),
    migrations: config.migrations ?? [],
    bindings,
    confirmDeletions: config.confirmDeletions ?? [],
    countObjects: (storageName) => driver.listObjects(storageName).length,
    source: config.configPath ?? "createRuntime() options",
  });
  for (const { binding, className } of bindings) {
    if (typeof module[className] !== "function") {
      const exported = Object.keys(module).filter((k) => typeof module[k] === "function");
      throw new SteadError(
        "INVALID_CONFIG",
        `${config.configPath === undefined ? "" : `${config.configPath}: `}Durable Object binding ${binding} names class "${className}", but the entry module does not export it. Exported classes: ${exported.join(", ") || "(none)"}. Export the class, or fix the class name.`,
      );
    }
  }
  await applyMigrationPlan(driver, plan);
  return [...plan.records.values()];
}

/** Every recorded class the module exports gets a namespace, bound or not, so its alarms run. */
async function hostObjects(
  config: RuntimeOptions,
  app: AppEntry,
  records: NamespaceRecord[],
  store: Store,
  env: Record<string, unknown>,
  exports: Record<string, unknown>,
  hooks: { alarmIndexChanged(): void; onError(error: unknown, context: string): void },
): Promise<ObjectHosting> {
  const module = app.module;
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
      }),
    );
  }
  const exported = (className: string) => typeof module[className] === "function";
  const bindings: Record<string, string> = {};
  for (const { binding, className } of classBindings(config)) {
    bindings[binding] = records.find((record) => record.className === className)!.storageName;
  }
  return threadHosting(records, exported, new NameCache(nameCacheBytes), {
    shards: threads,
    cpuLimitMs: config.cpuLimitMs ?? DEFAULT_CPU_LIMIT_MS,
    data: {
      // The bundle this thread imported: every thread runs the same build.
      main: app.url!,
      cwd: config.cwd ?? process.cwd(),
      dataDir: store.dataDir!,
      // The process-wide bound (the driver's default derives it from the open-file limit).
      maxOpenDatabases: shareOf(
        maxOpenDatabases(config.maxOpenDatabases, openFileLimit()),
        threads,
      ),
      historyRetentionMs: historyOptions(config).historyRetentionMs,
      compatibilityDate,
      vars: config.vars ?? {},
      bindings,
      namespaces: records.filter((record) => exported(record.className)),
      limits: { ...limits, maxActive: Math.max(1, Math.ceil(limits.maxActive / threads)) },
      nameCacheBytes: Math.floor(nameCacheBytes / (threads + 1)),
    },
    ...hooks,
    onStuck: (error) => hooks.onError(error, "object threads"),
  });
}

/** One thread's share of a process-wide bound. */
function shareOf(total: number, threads: number): number {
  return Math.max(1, Math.floor(total / threads));
}

function startAlarms(
  driver: StorageDriver,
  config: RuntimeOptions,
  hosting: ObjectHosting,
  onError: (error: unknown, context: string) => void,
): AlarmScheduler {
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
    (error, record) => onError(error, `alarm of ${record.namespace} ${record.id}`),
  );
  scheduler.start();
  return scheduler;
}

/** `ctx.waitUntil` of Worker requests: promises the runtime lets settle before disposing. */
interface WaitUntil {
  track(promise: Promise<unknown>): void;
  /** Resolves once every tracked promise settled. */
  settled(): Promise<unknown>;
}

function trackWaitUntil(onError: (error: unknown, context: string) => void): WaitUntil {
  const pending = new Set<Promise<unknown>>();
  return {
    track(promise) {
      const tracked = Promise.resolve(promise).then(
        () => {},
        (error: unknown) => onError(error, "waitUntil"),
      );
      pending.add(tracked);
      tracked.finally(() => pending.delete(tracked));
    },
    settled: () => Promise.allSettled(pending),
  };
}

/** The `ctx` a Worker's handler gets. */
function workerContext(
  waitUntil: (promise: Promise<unknown>) => void,
  exports: Record<string, unknown>,
): ExecutionContext {
  return { waitUntil, passThroughOnException() {}, props: {}, exports };
}

/** The runtime's public face: the Worker's fetch handler, and an orderly dispose. */
function workerRuntime(
  app: AppEntry,
  scope: WorkerScope,
  waitUntil: WaitUntil,
  store: Store,
  hosting: ObjectHosting,
  scheduler: AlarmScheduler,
  removeScope: () => void,
): Runtime {
  const env = scope.env as Record<string, any>;
  const exports = scope.exports as Record<string, unknown>;
  const requestScope: WorkerScope = { env, exports, waitUntil: waitUntil.track };
  const module = app.module;
  let disposed = false;

  const runtime: Runtime = {
    env,
    dataDir: store.dataDir,
    async fetch(input, init) {
      if (disposed)
        throw new SteadError("RUNTIME_DISPOSED", "The runtime was disposed; create a new one.");
      // A Request passed alone reaches the Worker as it is (as `stub.fetch` passes it on).
      const request =
        input instanceof Request && init === undefined ? input : new Request(input, init);
      const ctx = workerContext(waitUntil.track, exports);
      return runInScope(requestScope, () => callFetch(module.default, request, env, ctx));
    },
    alarmDeadLetters: () => store.driver.alarms.deadLetters(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      scheduler.stop();
      await waitUntil.settled();
      await hosting.dispose();
      await store.close();
      removeScope();
      app.dispose();
    },
    [Symbol.asyncDispose]() {
      return runtime.dispose();
    },
  };
  return runtime;
}

function defaultOnError(error: unknown, context: string): void {
  console.error(`[stead] ${context}:`, error);
}

/** The local driver's history options from `historyRetentionDays` and the runtime's clock. */
function historyOptions(config: RuntimeOptions): {
  historyRetentionMs?: number;
  now: () => number;
} {
  const clock = config.clock ?? systemClock;
  const days = config.historyRetentionDays;
  return {
    ...(days === undefined ? {} : { historyRetentionMs: days * 24 * 60 * 60 * 1000 }),
    now: () => clock.now(),
  };
}

/** The local driver on `dataDir`; a limit or lock it refuses is a configuration error. */
function defaultDriver(dataDir: string, config: RuntimeOptions): LocalDriver {
  try {
    return new LocalDriver({
      dataDir,
      maxOpenDatabases: config.maxOpenDatabases,
      ...historyOptions(config),
      lock: config.dataDirLock,
      sharedControl: (config.threads ?? 0) > 0,
    });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [error.message]),
    );
  }
}
