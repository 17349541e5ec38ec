import { statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadAppConfig } from "../config/index.ts";
import { SteadError } from "../core/errors.ts";
import { runCustomBuild } from "../loader/custom-build.ts";
import type { RuntimeOptions } from "./runtime-options.ts";

/**
 * Resolves `createRuntime`'s `config` option: reads the app's wrangler config as `stead dev`
 * does (`.dev.vars` included), runs its custom build, and lays the options given over it (`vars`
 * one by one, the others whole).
 */
export async function withAppConfig(
  options: RuntimeOptions,
): Promise<Omit<RuntimeOptions, "config">> {
  // Not an object at all: left for the options schema to report.
  if (typeof options !== "object" || options === null) return options;
  const { config, ...given } = options;
  if (config === undefined) return given;
  const path = configLocation(config);
  const dir = isDirectory(path) ? path : dirname(path);
  const app = await loadAppConfig(dir, { dev: true });
  if (dir !== path && app.configPath !== path) {
    throw new SteadError(
      "INVALID_CONFIG",
      `createRuntime(): config names ${path}, but ${basename(app.configPath)} in the same directory is the one wrangler and Stead read. Pass the directory (${dir}), or remove the file that is not used.`,
    );
  }
  if (app.customBuild !== undefined) await runCustomBuild(app.customBuild, app.configPath);
  const set = Object.entries(given).filter(([, value]) => value !== undefined);
  const merged: Omit<RuntimeOptions, "config"> = {
    ...app.runtimeOptions,
    ...Object.fromEntries(set),
  };
  // Vars given are laid over the config's one by one, as a test overriding one var expects.
  if (given.vars !== undefined) merged.vars = { ...app.runtimeOptions.vars, ...given.vars };
  return merged;
}

function configLocation(config: unknown): string {
  if (config instanceof URL && config.protocol === "file:") return fileURLToPath(config);
  if (typeof config === "string" && config !== "") return resolve(config);
  throw new SteadError(
    "INVALID_CONFIG",
    `createRuntime(): config must be the app's directory or its wrangler config file, as a path or file: URL (got ${config instanceof URL ? config.href : typeof config}).`,
  );
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    throw new SteadError(
      "CONFIG_NOT_FOUND",
      `createRuntime(): config names ${path}, which does not exist. Pass the app's directory, which holds its wrangler.jsonc, wrangler.json or wrangler.toml.`,
    );
  }
}
