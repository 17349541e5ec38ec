// The runtime's public face: the Worker's fetch handler with its `ctx`, waitUntil tracking,
// and an orderly dispose.
import type { AlarmScheduler } from "../core/alarms/alarm-scheduler.ts";
import type { ExecutionContext } from "../core/base-classes.ts";
import { SteadError } from "../core/errors.ts";
import { callFetch } from "../core/rpc/entrypoint-stub.ts";
import type { DeadLetterRecord } from "../core/storage/driver.ts";
import { runInScope, type WorkerScope } from "../core/worker-scope.ts";
import type { AppEntry } from "./app-entry.ts";
import type { RuntimeBindings } from "./bindings.ts";
import type { ClusterNode } from "./cluster-node.ts";
import type { ObjectHosting } from "./object-hosting.ts";
import type { Store } from "./store.ts";

/** How long a leaving cluster node waits for its queued events before closing its objects. */
const HAND_OVER_MS = 10_000;

/** A running Stead runtime, embedded in this process. */
export interface Runtime extends AsyncDisposable {
  /**
   * Calls the entry module's default `fetch` handler. A Request passed alone reaches the Worker
   * as it is (its body moves with it, as with `fetch(request)`); otherwise one is made from the
   * arguments.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** The bindings, as the Worker sees them: vars, Durable Object namespaces, KV, assets. */
  readonly env: Record<string, any>;
  /** Where object databases live. */
  readonly dataDir: string | undefined;
  /** Alarms that failed every retry, newest first. */
  alarmDeadLetters(): DeadLetterRecord[];
  /** Stops alarms, lets in-flight writes finish, closes every database. */
  dispose(): Promise<void>;
}

/** `ctx.waitUntil` of Worker requests: promises the runtime lets settle before disposing. */
export interface WaitUntil {
  track(promise: Promise<unknown>): void;
  /** Resolves once every tracked promise settled. */
  settled(): Promise<unknown>;
}

export function trackWaitUntil(onError: (error: unknown, context: string) => void): WaitUntil {
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
export function workerContext(
  waitUntil: (promise: Promise<unknown>) => void,
  exports: Record<string, unknown>,
  props: unknown = {},
): ExecutionContext {
  return { waitUntil, passThroughOnException() {}, props, exports };
}

/** The runtime's public face: the Worker's fetch handler, and an orderly dispose. */
export function workerRuntime(
  app: AppEntry,
  scope: WorkerScope,
  waitUntil: WaitUntil,
  store: Store,
  hosting: ObjectHosting,
  scheduler: AlarmScheduler | undefined,
  bindings: RuntimeBindings,
  node: ClusterNode | undefined,
  removeScope: () => void,
): Runtime {
  const env = scope.env as Record<string, any>;
  const exports = scope.exports as Record<string, unknown>;
  const requestScope: WorkerScope = { env, exports, waitUntil: waitUntil.track };
  const module = app.module;
  // An app of assets only (no `main`): its stand-in Worker is never asked.
  const assetsOnly = module.__steadAssetsOnly === true;
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
      const worker = () => {
        const ctx = workerContext(waitUntil.track, exports);
        return runInScope(requestScope, () => callFetch(module.default, request, env, ctx));
      };
      // Static assets answer first, as on Cloudflare; the Worker gets what they leave.
      if (bindings.assets === undefined) return worker();
      return assetsOnly ? bindings.assets.fetch(request) : bindings.assets.route(request, worker);
    },
    alarmDeadLetters: () => store.driver.alarms.deadLetters(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      scheduler?.stop();
      // Batches being handled finish (and are settled) while objects still answer.
      await bindings.queues.stopConsumers();
      await waitUntil.settled();
      // A cluster node lets queued events finish, then hands its objects to the next asker.
      await node?.handOver(hosting, performance.now() + HAND_OVER_MS);
      await hosting.dispose();
      await bindings.close();
      try {
        await node?.leave();
      } finally {
        await store.close();
      }
      removeScope();
      app.dispose();
    },
    [Symbol.asyncDispose]() {
      return runtime.dispose();
    },
  };
  return runtime;
}
