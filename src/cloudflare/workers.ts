/**
 * The module Cloudflare apps import as `cloudflare:workers`. Stead serves this file under that
 * specifier to every module it loads, so `import { DurableObject, env } from "cloudflare:workers"`
 * works unchanged. The Workers globals (`WebSocket`, `WebSocketPair`, ...) are not installed
 * here but by the runtime, for every app whatever it imports.
 */
import type { ExecutionContext } from "../core/base-classes.ts";
import { currentScope, runInScope } from "../core/worker-scope.ts";

export { DurableObject, RpcTarget, WorkerEntrypoint } from "../core/base-classes.ts";
export { RpcStub } from "./rpc-stub.ts";
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

/** Runs `fn` with `env` replaced by `newEnv` for everything it does, as on Cloudflare. */
export function withEnv<T>(newEnv: object, fn: () => T): T {
  return runInScope({ ...innerScope(), env: newEnv }, fn);
}

/** Runs `fn` with `exports` replaced by `newExports`. */
export function withExports<T>(newExports: object, fn: () => T): T {
  return runInScope({ ...innerScope(), exports: newExports }, fn);
}

/** Runs `fn` with both `env` and `exports` replaced. */
export function withEnvAndExports<T>(newEnv: object, newExports: object, fn: () => T): T {
  return runInScope({ ...innerScope(), env: newEnv, exports: newExports }, fn);
}

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
