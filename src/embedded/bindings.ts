import { statSync } from "node:fs";
import { resolve } from "node:path";
import {
  AssetServer,
  type AssetsOptions,
  assetsBinding,
  type ResolvedAssets,
  resolveAssets,
} from "../bindings/assets/index.ts";
import { D1Database, type D1DatabaseOptions, databaseKey } from "../bindings/d1/index.ts";
import { KVNamespace } from "../bindings/kv/index.ts";
import { R2Bucket, type R2Store } from "../bindings/r2/index.ts";
import {
  RateLimit,
  type RateLimitBindingOptions,
  RateLimitCounters,
} from "../bindings/ratelimit/index.ts";
import {
  type ServiceBindingOptions,
  type ServiceTarget,
  serviceBinding,
} from "../bindings/services/index.ts";
import type { Clock } from "../core/clock.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import { DeferredRoute } from "../core/object/deferred-route.ts";
import { DurableObjectNamespace, type ObjectRoute } from "../core/object/namespace.ts";
import { DeferredKvStore } from "./deferred-kv-store.ts";
import { openKvStore } from "./kv-file.ts";
import { type QueuesSetup, RuntimeQueues } from "./queues.ts";
import { openR2Store } from "./r2-files.ts";

/** What the bindings of one thread are made from. */
export interface BindingsSetup {
  /** Assets with defaults applied and the directory checked (`resolveAssetOptions`). */
  readonly assets: ResolvedAssets | undefined;
  readonly kvNamespaces: readonly { binding: string; id?: string }[];
  readonly r2Buckets: readonly { binding: string; bucket_name?: string }[];
  readonly d1Databases: readonly D1DatabaseOptions[];
  /** This thread removes R2 files a crash left behind when it opens the store (one thread does). */
  readonly sweepR2: boolean;
  /** Service bindings to this Worker's own entrypoints (`services`). */
  readonly services: readonly ServiceBindingOptions[];
  /** Rate Limiting bindings (`ratelimits`), counted on this thread. */
  readonly ratelimits: readonly RateLimitBindingOptions[];
  /** Queue producers (and, on the main thread, consumers). */
  readonly queues: QueuesSetup;
  readonly clock: Clock;
  /** Problems in `_headers` / `_redirects`, for the operator. */
  warn(message: string): void;
}

/**
 * The bindings of `env` beside vars and Durable Object namespaces: assets, KV, R2, D1, services,
 * queues, rate limits.
 */
export interface RuntimeBindings {
  /** The asset server, when the app has assets: `fetch` goes through its routing first. */
  readonly assets: AssetServer | undefined;
  /**
   * The Worker's module is loaded: service bindings reach its exports from now on, each call
   * with a context made by `newContext`.
   */
  serve(module: Record<string, unknown>, newContext: ServiceTarget["newContext"]): void;
  /**
   * The objects are hosted: D1 calls reach the databases' objects through `route` (the
   * namespace of the D1 class; undefined when the app has no D1 binding) from now on.
   */
  hostD1(route: ObjectRoute | undefined): void;
  /** The data directory is held: KV and R2 calls reach their files in it from now on. */
  open(dataDir: string): void;
  /** The queues (producers in `env`, consumers once started), opened by `openQueues`. */
  readonly queues: RuntimeQueues;
  /** Opens the queues' store (in `dataDir`, or NATS): sends reach it from now on. */
  openQueues(dataDir: string): Promise<void>;
  /** The runtime did not start: KV calls fail with `error`. */
  fail(error: unknown): void;
  /** Closes the KV store and the queues (after the objects that may use them are closed). */
  close(): Promise<void>;
}

/**
 * Puts the bindings in `env`. KV namespaces and R2 buckets are usable at once, and their calls
 * wait until `open` names the data directory; D1 databases work once `hostD1` is called.
 */
export function addBindings(env: Record<string, unknown>, setup: BindingsSetup): RuntimeBindings {
  const assets = setup.assets === undefined ? undefined : new AssetServer(setup.assets, setup.warn);
  if (assets !== undefined && setup.assets!.binding !== undefined) {
    env[setup.assets!.binding] = assetsBinding(assets);
  }
  const store = setup.kvNamespaces.length === 0 ? undefined : new DeferredKvStore();
  for (const { binding, id } of setup.kvNamespaces) {
    env[binding] = new KVNamespace({
      store: store!,
      namespace: id ?? binding,
      now: () => setup.clock.now(),
    });
  }
  const r2 = setup.r2Buckets.length === 0 ? undefined : deferred<R2Store>();
  for (const { binding, bucket_name } of setup.r2Buckets) {
    env[binding] = new R2Bucket({ store: () => r2!.promise, bucket: bucket_name ?? binding });
  }
  const d1Routes = setup.d1Databases.map((options) => {
    const route = new DeferredRoute(options.binding);
    const namespace = new DurableObjectNamespace(route);
    let stub: any;
    env[options.binding] = new D1Database(
      () => (stub ??= namespace.get(namespace.idFromName(databaseKey(options)))),
    );
    return route;
  });
  // One set of counters per thread: bindings of one namespace_id share them.
  const counters = setup.ratelimits.length === 0 ? undefined : new RateLimitCounters();
  for (const options of setup.ratelimits) {
    env[options.name] = new RateLimit(options, {
      counters: counters!,
      now: () => setup.clock.now(),
    });
  }
  const queues = new RuntimeQueues(env, setup.queues);
  let loaded:
    | { module: Record<string, unknown>; newContext: ServiceTarget["newContext"] }
    | undefined;
  for (const service of setup.services) {
    env[service.binding] = serviceBinding(service, () => {
      if (loaded === undefined) {
        throw new Error(
          `Service binding ${service.binding} was called before the Worker's module finished loading; call it from a handler, not from top-level code.`,
        );
      }
      return {
        entrypoint: loaded.module[service.entrypoint ?? "default"],
        env,
        newContext: loaded.newContext,
      };
    });
  }
  return {
    assets,
    serve(module, newContext) {
      loaded = { module, newContext };
    },
    hostD1(route) {
      if (route === undefined) return;
      for (const deferred of d1Routes) deferred.resolve(route);
    },
    open(dataDir) {
      try {
        store?.open(openKvStore(dataDir));
        r2?.resolve(openR2Store(dataDir, setup.sweepR2));
      } catch (error) {
        store?.fail(error);
        r2?.reject(error);
        throw error;
      }
    },
    queues,
    openQueues: (dataDir) => queues.open(dataDir),
    fail: (error) => {
      store?.fail(error);
      r2?.reject(error);
      queues.fail(error);
    },
    close: async () => {
      await queues.close();
      await store?.close();
      if (r2?.settled === true) await (await r2.promise).close();
    },
  };
}

/**
 * The `assets` option with its defaults, its directory resolved from `cwd`; a directory that
 * does not exist is a configuration error.
 */
export function resolveAssetOptions(
  options: AssetsOptions | undefined,
  cwd: string,
  compatibilityDate: string,
  compatibilityFlags: readonly string[],
): ResolvedAssets | undefined {
  if (options === undefined) return undefined;
  const directory = resolve(cwd, options.directory);
  let isDirectory = false;
  try {
    isDirectory = statSync(directory).isDirectory();
  } catch {}
  if (!isDirectory) {
    throw new SteadError(
      "INVALID_CONFIG",
      formatOptionProblems("createRuntime()", [
        `assets.directory: ${directory} is not a directory; create it, or fix the path (resolved from cwd)`,
      ]),
    );
  }
  return resolveAssets(options, directory, compatibilityDate, compatibilityFlags);
}

/** Binding names in use twice (vars, Durable Objects, KV, assets), as problems. */
export function bindingNameProblems(names: readonly { name: string; option: string }[]): string[] {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const { name, option } of names) {
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push(`${option}: ${name} is also bound by ${first}; give each binding its own name`);
    } else seen.set(name, option);
  }
  return problems;
}

/** A value that arrives later; calls made before it wait. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
  readonly settled: boolean;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  let state: "pending" | "resolved" | "rejected" = "pending";
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return {
    promise,
    resolve(value) {
      state = "resolved";
      resolve(value);
    },
    reject(error) {
      if (state === "pending") state = "rejected";
      reject(error);
    },
    get settled() {
      return state === "resolved";
    },
  };
}
