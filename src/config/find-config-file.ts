import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { SteadError } from "../core/errors.ts";
import { parseConfigText } from "./parse-config-text.ts";

/**
 * Config file names, most preferred first: the order wrangler looks for them in
 * (`findWranglerConfig` in workers-sdk).
 */
export const CONFIG_FILE_NAMES = ["wrangler.json", "wrangler.jsonc", "wrangler.toml"] as const;

/**
 * Where a build (the Cloudflare Vite plugin, frameworks' adapters) names the config it generated,
 * relative to the app's directory: `{ "configPath": "../../dist/app/wrangler.json" }`. Wrangler's
 * `deploy` and `dev` read that config instead of the user's, and so does Stead.
 */
export const DEPLOY_CONFIG_PATH = join(".wrangler", "deploy", "config.json");

/** The config file to read and the ones it shadows. */
export interface FoundConfigFile {
  /** Absolute path of the config file to read. */
  path: string;
  /** Other config files present in the same directory, not read. */
  ignored: string[];
  /** Set when `path` is the config a build generated, named by `.wrangler/deploy/config.json`. */
  redirect?: {
    /** The deploy config file that named `path`. */
    deployConfig: string;
    /** The user's own config in the app's directory, if there is one. */
    userConfig: string | undefined;
  };
}

/**
 * Finds the app's wrangler config in `dir`; throws `CONFIG_NOT_FOUND` when there is none. With
 * `followRedirect` (as wrangler's `deploy` and `dev`), a `.wrangler/deploy/config.json` in `dir`
 * names the config to read instead.
 */
export function findConfigFile(
  dir: string,
  { followRedirect = true }: { followRedirect?: boolean } = {},
): FoundConfigFile {
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
  const deployConfig = join(absolute, DEPLOY_CONFIG_PATH);
  if (followRedirect && existsSync(deployConfig)) {
    return {
      path: redirectedConfig(deployConfig),
      ignored: [],
      redirect: { deployConfig, userConfig: path },
    };
  }
  if (path === undefined) {
    throw new SteadError(
      "CONFIG_NOT_FOUND",
      `No wrangler.jsonc, wrangler.json or wrangler.toml in ${absolute}. Run Stead in the app's directory (or pass it), or create a wrangler.jsonc with at least "main", e.g. { "main": "src/index.ts" }.`,
    );
  }
  return { path, ignored };
}

/** The config a deploy config file names, which must exist. */
function redirectedConfig(deployConfig: string): string {
  const named = (parseConfigText(deployConfig, readFileSync(deployConfig, "utf8")) ?? {}) as {
    configPath?: unknown;
  };
  const fix = `Run the app's build again (it writes that file), or delete ${deployConfig} to use the app's own wrangler config.`;
  if (typeof named.configPath !== "string" || named.configPath === "") {
    throw new SteadError(
      "INVALID_CONFIG",
      `${deployConfig}: configPath: expected the path of the config the build generated, like { "configPath": "../../dist/app/wrangler.json" }. ${fix}`,
    );
  }
  const path = resolve(dirname(deployConfig), named.configPath);
  if (!existsSync(path)) {
    throw new SteadError(
      "CONFIG_NOT_FOUND",
      `${deployConfig}: configPath names ${path}, which does not exist. ${fix}`,
    );
  }
  return path;
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
