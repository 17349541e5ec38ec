import { existsSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SteadError } from "../core/errors.ts";
import { buildApp } from "../loader/build-app.ts";
import { loadEntryModule } from "./module-loader.ts";
import type { ResolvedRuntimeOptions } from "./runtime-options.ts";

/** The app's entry module, loaded, and what object threads import to load it too. */
export interface AppEntry {
  readonly module: Record<string, unknown>;
  /** The URL object threads import: the bundle's, for a built app. */
  readonly url: string | undefined;
  /** Removes the bundle, once no thread will import it again. */
  dispose(): void;
}

/**
 * Loads `main`: a path or `file:` URL is bundled first (`loader/`), as wrangler does; another
 * URL is imported as it is; a module namespace is used as it is. With `prebuilt` (the URL of a
 * bundle of `main` built elsewhere: `stead dev` builds in its own process) that bundle is
 * imported as it is; whoever built it removes it.
 */
export async function loadAppEntry(
  config: ResolvedRuntimeOptions,
  prebuilt?: string,
): Promise<AppEntry> {
  const main = config.main;
  const cwd = config.cwd ?? process.cwd();
  if (prebuilt !== undefined) {
    return { module: await loadEntryModule(prebuilt, cwd), url: prebuilt, dispose: () => {} };
  }
  if (typeof main !== "string" && !(main instanceof URL)) {
    return { module: main, url: undefined, dispose: () => {} };
  }
  const entry = entryPath(main, cwd);
  if (entry === undefined) {
    return { module: await loadEntryModule(main, cwd), url: String(main), dispose: () => {} };
  }
  if (!existsSync(entry) || !statSync(entry).isFile()) {
    throw new SteadError(
      "MODULE_LOAD_FAILED",
      `Could not load the entry module ${entry}: the file does not exist. Fix main (a path is resolved from ${cwd}), or create the file.`,
    );
  }
  const app = await buildApp({
    ...config.build,
    entry,
    projectRoot: cwd,
    compatibilityFlags: config.compatibilityFlags ?? [],
  });
  try {
    return { module: await loadEntryModule(app.url, cwd), url: app.url, dispose: app.dispose };
  } catch (error) {
    app.dispose();
    throw error;
  }
}

/** The file `main` names, or undefined for a URL that is not a `file:` URL. */
function entryPath(main: string | URL, cwd: string): string | undefined {
  if (main instanceof URL) return main.protocol === "file:" ? fileURLToPath(main) : undefined;
  if (/^[a-z][a-z0-9+.-]*:/i.test(main) && !isAbsolute(main)) {
    return main.startsWith("file:") ? fileURLToPath(main) : undefined;
  }
  return resolve(cwd, main);
}
