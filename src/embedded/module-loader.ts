import { registerHooks } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { SteadError } from "../core/errors.ts";

const WORKERS_MODULE = new URL("../cloudflare-workers.ts", import.meta.url).href;
let hooksRegistered = false;

/**
 * Makes `cloudflare:workers` resolve to Stead's implementation for every module loaded in this
 * process. Idempotent.
 */
export function registerWorkersModule(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (specifier === "cloudflare:workers") return { url: WORKERS_MODULE, shortCircuit: true };
      return nextResolve(specifier, context);
    },
  });
}

// Importing Stead makes the specifier resolvable, so tests and apps can import their worker
// modules directly too, not only through createRuntime.
registerWorkersModule();

/** Imports the entry module named by `main` (a path relative to `baseDir`, or a URL). */
export async function loadEntryModule(
  main: string | URL,
  baseDir: string,
): Promise<Record<string, unknown>> {
  registerWorkersModule();
  const url =
    main instanceof URL
      ? main.href
      : /^[a-z][a-z0-9+.-]*:/i.test(main) && !isAbsolute(main)
        ? main
        : pathToFileURL(resolve(baseDir, main)).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new SteadError(
      "MODULE_LOAD_FAILED",
      `Could not load the entry module ${url}: ${detail}`,
      { cause },
    );
  }
}
