import { existsSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { SteadError } from "../core/errors.ts";

/** Config file names, most preferred first (the order wrangler itself prefers). */
export const CONFIG_FILE_NAMES = ["wrangler.jsonc", "wrangler.json", "wrangler.toml"] as const;

/** The config file to read and the ones it shadows. */
export interface FoundConfigFile {
  /** Absolute path of the preferred config file present. */
  path: string;
  /** Other config files present in the same directory, not read. */
  ignored: string[];
}

/** Finds the app's wrangler config in `dir`; throws `CONFIG_NOT_FOUND` when there is none. */
export function findConfigFile(dir: string): FoundConfigFile {
  const absolute = resolve(dir);
  if (!existsSync(absolute) || !statSync(absolute).isDirectory()) {
    throw new SteadError(
      "CONFIG_NOT_FOUND",
      `The app directory ${absolute} does not exist. Pass the directory that holds the app's wrangler.jsonc, wrangler.json or wrangler.toml.`,
    );
  }
  const present = CONFIG_FILE_NAMES.map((name) => join(absolute, name)).filter((path) =>
    existsSync(path),
  );
  const [path, ...ignored] = present;
  if (path === undefined) {
    throw new SteadError(
      "CONFIG_NOT_FOUND",
      `No wrangler.jsonc, wrangler.json or wrangler.toml in ${absolute}. Run Stead in the app's directory (or pass it), or create a wrangler.jsonc with at least "main", e.g. { "main": "src/index.ts" }.`,
    );
  }
  return { path, ignored };
}

/**
 * The nearest directory at or above `start` that holds a wrangler config, as wrangler looks for
 * the config of `wrangler dev src/index.ts`; undefined when there is none up to the root.
 */
export function findConfigDirUpward(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (CONFIG_FILE_NAMES.some((name) => existsSync(join(dir, name)))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
