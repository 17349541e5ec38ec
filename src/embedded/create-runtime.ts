import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlarmScheduler } from "../core/alarms/alarm-scheduler.ts";
import type { ExecutionContext } from "../core/base-classes.ts";
import { WorkerEntrypoint } from "../core/base-classes.ts";
import { systemClock } from "../core/clock.ts";
import { SteadError } from "../core/errors.ts";
import { installFetchGate } from "../core/gates/outgoing-fetch.ts";
import { applyMigrationPlan } from "../core/migrations/apply-migrations.ts";
import type { ClassBinding } from "../core/migrations/migration.ts";
import { planMigrations } from "../core/migrations/plan-migrations.ts";
import { DurableObjectNamespace, NamespaceController } from "../core/object/namespace.ts";
import { Residency } from "../core/object/residency.ts";
import type { DeadLetterRecord, StorageDriver } from "../core/storage/driver.ts";
import type { DataDirLock } from "../drivers/local/data-dir-lock.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { loadEntryModule } from "./module-loader.ts";
import { DEFAULT_LIMITS, parseRuntimeOptions, type RuntimeOptions } from "./runtime-options.ts";

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

/** Behaviour changes keyed by compatibility date. */
const DELETE_ALL_DELETES_ALARM = "2026-02-24";

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
  installFetchGate();
  const cwd = config.cwd ?? process.cwd();
  const module =
    typeof config.main === "string" || config.main instanceof URL
      ? await loadEntryModule(config.main, cwd)
      : config.main;

  const bindings: ClassBinding[] = Object.entries(config.durableObjects ?? {}).map(
    ([binding, spec]) => ({
      binding,
      className: typeof spec === "string" ? spec : spec.className,
      backend: typeof spec === "object" && spec.storage === "kv" ? "kv" : "sqlite",
    }),
  );

  const temporaryDir =
    config.dataDir === undefined && config.driver === undefined
      ? mkdtempSync(join(tmpdir(), "stead-"))
      : undefined;
  const dataDir = config.dataDir ?? temporaryDir;
  if (config.driver !== undefined && config.maxOpenDatabases !== undefined) {
    throw new SteadError(
      "INVALID_CONFIG",
      "Invalid createRuntime() options:\n  - maxOpenDatabases: applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, maxOpenDatabases }).",
    );
  }
  if (
    config.dataDirLock !== undefined &&
    (config.driver !== undefined || config.dataDir === undefined)
  ) {
    throw new SteadError(
      "INVALID_CONFIG",
      `Invalid createRuntime() options:\n  - dataDirLock: ${config.driver !== undefined ? "applies to the default local driver only; pass it to your driver instead, e.g. new LocalDriver({ dataDir, lock })" : "needs dataDir, the directory it locks"}.`,
    );
  }
  const driver: StorageDriver =
    config.driver ?? defaultDriver(dataDir!, config.maxOpenDatabases, config.dataDirLock);
  const clock = config.clock ?? systemClock;
  const limits = { ...DEFAULT_LIMITS, ...config.objects };
  const residency = new Residency(limits.maxActive);
  const onError = config.onError ?? defaultOnError;
  const compatibilityDate = config.compatibilityDate ?? new Date().toISOString().slice(0, 10);

  const env: Record<string, any> = { ...config.vars };
  /** By storage name, as the alarm index names namespaces. */
  const controllers = new Map<string, NamespaceController>();
  let scheduler: AlarmScheduler | undefined;
  try {
    // Plan first (it changes nothing), check the module, and only then touch stored data.
    const source = config.configPath ?? "createRuntime() options";
    const plan = planMigrations({
      records: driver.control.namespaces(),
      applied: driver.control.appliedMigrations(),
      migrations: config.migrations ?? [],
      bindings,
      confirmDeletions: config.confirmDeletions ?? [],
      countObjects: (storageName) => driver.listObjects(storageName).length,
      source,
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
    // Every recorded class the module exports gets a namespace, bound or not, so its alarms run.
    for (const record of plan.records.values()) {
      const ctor = module[record.className];
      if (typeof ctor !== "function") continue;
      const controller = new NamespaceController({
        namespace: record.storageName,
        uniqueKey: record.uniqueKey,
        ctor: ctor as never,
        env,
        backend: record.backend,
        driver,
        clock,
        limits,
        residency,
        deleteAllDeletesAlarm: compatibilityDate >= DELETE_ALL_DELETES_ALARM,
        alarmIndexChanged: () => scheduler?.changed(),
        onError,
      });
      controllers.set(record.storageName, controller);
    }
    for (const { binding, className } of bindings) {
      const { storageName } = plan.records.get(className)!;
      env[binding] = new DurableObjectNamespace(controllers.get(storageName)!);
    }
  } catch (error) {
    if (config.driver === undefined) await driver.close().catch(() => {});
    if (temporaryDir !== undefined) rmSync(temporaryDir, { recursive: true, force: true });
    throw error;
  }

  scheduler = new AlarmScheduler(
    driver.alarms,
    clock,
    async (record) => {
      const controller = controllers.get(record.namespace);
      // Failing (not dropping) keeps the alarm: retried, then dead-lettered where operators look.
      if (controller === undefined) {
        return {
          kind: "failed",
          error: new Error(
            `The alarm of object ${record.id} belongs to class storage "${record.namespace}", whose class the entry module no longer exports. Export the class again, or remove it with a deleted_classes migration.`,
          ),
        };
      }
      return controller.deliverAlarm(record);
    },
    (error, record) => onError(error, `alarm of ${record.namespace} ${record.id}`),
  );
  scheduler.start();

  const pending = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    const tracked = Promise.resolve(promise).then(
      () => {},
      (error: unknown) => onError(error, "waitUntil"),
    );
    pending.add(tracked);
    tracked.finally(() => pending.delete(tracked));
  };
  const handler = module.default as any;
  let disposed = false;

  const runtime: Runtime = {
    env,
    dataDir,
    async fetch(input, init) {
      if (disposed)
        throw new SteadError("RUNTIME_DISPOSED", "The runtime was disposed; create a new one.");
      // A Request passed alone reaches the Worker as it is (as `stub.fetch` passes it on).
      const request =
        input instanceof Request && init === undefined ? input : new Request(input, init);
      const ctx: ExecutionContext = { waitUntil: track, passThroughOnException() {}, props: {} };
      if (typeof handler === "function" && handler.prototype instanceof WorkerEntrypoint) {
        const worker = new handler(ctx, env);
        if (typeof worker.fetch !== "function") throw missingFetch();
        return worker.fetch(request);
      }
      if (handler === null || typeof handler !== "object" || typeof handler.fetch !== "function") {
        throw missingFetch();
      }
      return handler.fetch(request, env, ctx);
    },
    alarmDeadLetters: () => driver.alarms.deadLetters(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      scheduler?.stop();
      await Promise.allSettled(pending);
      // Let commits scheduled for the end of this turn run before closing.
      await new Promise((resolve) => setImmediate(resolve));
      for (const controller of controllers.values()) controller.closeAll();
      await driver.close();
      if (temporaryDir !== undefined) rmSync(temporaryDir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return runtime.dispose();
    },
  };
  return runtime;
}

function missingFetch(): SteadError {
  return new SteadError(
    "HANDLER_MISSING",
    "The entry module has no fetch handler: export default { fetch(request, env, ctx) { ... } } or a class extending WorkerEntrypoint with a fetch() method.",
  );
}

function defaultOnError(error: unknown, context: string): void {
  console.error(`[stead] ${context}:`, error);
}

/** The local driver on `dataDir`; a limit or lock it refuses is a configuration error. */
function defaultDriver(
  dataDir: string,
  maxOpenDatabases: number | undefined,
  lock: DataDirLock | "held" | undefined,
): LocalDriver {
  try {
    return new LocalDriver({ dataDir, maxOpenDatabases, lock });
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new SteadError(
      "INVALID_CONFIG",
      `Invalid createRuntime() options:\n  - ${error.message}`,
    );
  }
}
