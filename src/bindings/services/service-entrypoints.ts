import { isEntrypointClass } from "../../core/rpc/entrypoint-stub.ts";
import type { ServiceBindingOptions } from "./service-binding.ts";

/** Methods that make an exported object a Worker entrypoint (an `ExportedHandler`). */
const HANDLERS = ["fetch", "scheduled", "queue", "email", "tail", "trace", "test"];

/**
 * Problems with `services` against the loaded module: each names an export that is a
 * `WorkerEntrypoint` class or an object of handlers.
 */
export function serviceEntrypointProblems(
  services: readonly ServiceBindingOptions[],
  module: Record<string, unknown>,
): string[] {
  const problems: string[] = [];
  services.forEach(({ binding, entrypoint }, index) => {
    const name = entrypoint ?? "default";
    const value = module[name];
    if (isEntrypointClass(value) || isHandlerObject(value)) return;
    const offered = Object.keys(module).filter((key) => {
      const exported = module[key];
      return isEntrypointClass(exported) || isHandlerObject(exported);
    });
    problems.push(
      `services[${index}] (${binding}): the entry module has no entrypoint "${name}" (a class extending WorkerEntrypoint, or an object with a fetch handler). Entrypoints it exports: ${offered.join(", ") || "(none)"}. Export it, or fix "entrypoint".`,
    );
  });
  return problems;
}

function isHandlerObject(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    HANDLERS.some((handler) => typeof (value as Record<string, unknown>)[handler] === "function")
  );
}
