import type { ExecutionContext } from "../core/base-classes.ts";
import { entrypointStub, isEntrypointClass } from "../core/rpc/entrypoint-stub.ts";

/**
 * Fills `exports` (`ctx.exports`, and `exports` of `cloudflare:workers`) with the loopback
 * bindings of the entry module, as Cloudflare makes them: a service binding per top-level
 * export that extends `WorkerEntrypoint` or is a handler object (`{ fetch() {...} }`), and a
 * Durable Object namespace per exported class that has storage, bound in the config or not.
 * `namespaces` maps class names to those namespaces (a migration declares a class's storage).
 */
export function fillWorkerExports(
  exports: Record<string, unknown>,
  module: Record<string, unknown>,
  env: object,
  namespaces: ReadonlyMap<string, unknown>,
  newContext: () => ExecutionContext,
): void {
  for (const [name, value] of Object.entries(module)) {
    const namespace = namespaces.get(name);
    if (namespace !== undefined) exports[name] = namespace;
    else if (isEntrypointClass(value) || isHandlerObject(value)) {
      exports[name] = entrypointStub(value, env, newContext);
    }
  }
  Object.freeze(exports);
}

/** Methods that make an exported object a Worker entrypoint (an `ExportedHandler`). */
const HANDLERS = ["fetch", "scheduled", "queue", "email", "tail", "trace", "test"];

function isHandlerObject(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    HANDLERS.some((handler) => typeof (value as Record<string, unknown>)[handler] === "function")
  );
}
