import { AsyncLocalStorage } from "node:async_hooks";
import { currentObject } from "./gates/context.ts";

/**
 * What `import { env, exports, waitUntil } from "cloudflare:workers"` reads: the bindings and
 * loopback bindings of the runtime whose code is running. Several runtimes may live in one
 * process (and each object thread has its own), so the module-level `env` looks up the scope of
 * the running code instead of holding one object.
 */
export interface WorkerScope {
  readonly env: object;
  readonly exports: object;
  /** `waitUntil` of the running request (or object); undefined where nothing tracks it. */
  readonly waitUntil?: (promise: Promise<unknown>) => void;
}

const storage = new AsyncLocalStorage<WorkerScope>();
/** Scopes set by `withEnv` / `withExports`: they win over the object's and the request's. */
const overrides = new AsyncLocalStorage<WorkerScope>();
/** Runtimes of this thread, latest last: code running outside any scope sees the latest. */
const started: WorkerScope[] = [];

/** Call this to run a Worker's handler (or load its module) as code of `scope`'s runtime. */
export function runInScope<T>(scope: WorkerScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** Call this for `withEnv` and its kin: `scope` wins for everything `fn` does. */
export function runWithOverride<T>(scope: WorkerScope, fn: () => T): T {
  return overrides.run(scope, fn);
}

/**
 * The scope of the running code: one `withEnv` set, then the object's, then the request's,
 * then the runtime started last on this thread (timers and sockets a library set up at import
 * time). Undefined when no runtime is running.
 */
export function currentScope(): WorkerScope | undefined {
  return overrides.getStore() ?? currentObject()?.scope ?? storage.getStore() ?? started.at(-1);
}

/** Call this when a runtime starts: until it stops, it is the fallback scope. */
export function addRuntimeScope(scope: WorkerScope): () => void {
  started.push(scope);
  return () => {
    const index = started.lastIndexOf(scope);
    if (index >= 0) started.splice(index, 1);
  };
}
