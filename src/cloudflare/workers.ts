/**
 * The module Cloudflare apps import as `cloudflare:workers`. Stead serves this file under that
 * specifier to every module it loads, so `import { DurableObject, env } from "cloudflare:workers"`
 * works unchanged. The Workers globals (`WebSocket`, `WebSocketPair`, ...) are not installed
 * here but by the runtime, for every app whatever it imports.
 */
import type { ExecutionContext } from "../core/base-classes.ts";
import { currentScope, runWithOverride } from "../core/worker-scope.ts";

export { DurableObject, RpcTarget, WorkerEntrypoint } from "../core/base-classes.ts";
export { RpcStub } from "./rpc-stub.ts";
export { RpcPromise, RpcProperty, ServiceStub } from "./rpc-types.ts";
export { WorkflowEntrypoint } from "./workflow-entrypoint.ts";

/**
 * The Worker's bindings, importable anywhere, top level included: what the runtime running the
 * current code passes as `env`. Durable Object namespaces join the vars once the module has
 * loaded (the namespaces are made from its classes).
 *
 * @example
 * import { env } from "cloudflare:workers";
 * const apiBase = env.API_BASE;
 */
export const env: Record<string, any> = scopeProxy("env", true);

/**
 * The Worker's loopback bindings, as `ctx.exports`: a service binding per `WorkerEntrypoint`
 * export, a namespace per Durable Object class with storage. Read-only.
 */
export const exports: Record<string, any> = scopeProxy("exports", false);

/**
 * Extends the current request (or object event) until `promise` settles, as `ctx.waitUntil`.
 * Outside a request it lets the promise run on its own.
 */
export function waitUntil(promise: Promise<unknown>): void {
  const track = currentScope()?.waitUntil;
  if (track) track(promise);
  else Promise.resolve(promise).catch(() => {});
}

/**
 * Runs `fn` with `env` replaced by `newEnv` for everything it does, as on Cloudflare: `null` or
 * `undefined` hides every binding, a value that is not an object leaves `env` as it is.
 */
export function withEnv<T>(newEnv: unknown, fn: () => T): T {
  const scope = innerScope();
  return runWithOverride({ ...scope, env: replacement(newEnv, scope.env) }, fn);
}

/** Runs `fn` with `exports` replaced by `newExports`, as `withEnv` replaces `env`. */
export function withExports<T>(newExports: unknown, fn: () => T): T {
  const scope = innerScope();
  return runWithOverride({ ...scope, exports: replacement(newExports, scope.exports) }, fn);
}

/** Runs `fn` with both `env` and `exports` replaced. */
export function withEnvAndExports<T>(newEnv: unknown, newExports: unknown, fn: () => T): T {
  const scope = innerScope();
  return runWithOverride(
    {
      ...scope,
      env: replacement(newEnv, scope.env),
      exports: replacement(newExports, scope.exports),
    },
    fn,
  );
}

function replacement(value: unknown, current: object): object {
  if (value === null || value === undefined) return {};
  return typeof value === "object" || typeof value === "function" ? value : current;
}

/**
 * `ctx.cache` of the running request, on Cloudflare (cache purging for the Worker's zone).
 * Stead has no zone cache: every property reads as undefined, as outside a request on workerd.
 */
export const cache: Record<string, any> = new Proxy({}, { get: () => undefined });

export type { ExecutionContext };

function innerScope() {
  return currentScope() ?? { env: {}, exports: {} };
}

/**
 * A stable object that forwards to the current scope's `env` or `exports` (a module-level import
 * cannot change identity). Writes reach the current `env`, as on Cloudflare; `exports` is
 * read-only.
 */
function scopeProxy(key: "env" | "exports", writable: boolean): Record<string, any> {
  const inner = () => currentScope()?.[key] as Record<PropertyKey, unknown> | undefined;
  const write = (change: (target: Record<PropertyKey, unknown>) => boolean) => {
    if (!writable) return false;
    const target = inner();
    return target === undefined ? true : change(target);
  };
  return new Proxy({} as Record<string, any>, {
    get: (_, prop) => {
      const target = inner();
      return target === undefined ? undefined : Reflect.get(target, prop);
    },
    has: (_, prop) => {
      const target = inner();
      return target !== undefined && Reflect.has(target, prop);
    },
    ownKeys: () => {
      const target = inner();
      return target === undefined ? [] : Reflect.ownKeys(target);
    },
    getOwnPropertyDescriptor: (_, prop) => {
      const target = inner();
      const found =
        target === undefined ? undefined : Reflect.getOwnPropertyDescriptor(target, prop);
      // The proxy's own target stays empty, so a property must read as configurable.
      return found === undefined ? undefined : { ...found, configurable: true };
    },
    set: (_, prop, value) => write((target) => Reflect.set(target, prop, value)),
    deleteProperty: (_, prop) => write((target) => Reflect.deleteProperty(target, prop)),
    defineProperty: (_, prop, attributes) =>
      write((target) => Reflect.defineProperty(target, prop, attributes)),
  });
}
