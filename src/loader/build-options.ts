import type { ModuleRule } from "./module-rules.ts";

/** How to build an app, from the wrangler config keys that shape its bundle. */
export interface BuildOptions extends BuildKeys {
  /** The entry module's absolute path. */
  entry: string;
  /** Where relative `alias` targets and `tsconfig` resolve from, and paths in errors are shown from (the config's directory). */
  projectRoot: string;
  /** `compatibility_flags`: `nodejs_compat` / `nodejs_compat_v2` make bare built-in names (`fs`) Node's. */
  compatibilityFlags?: readonly string[];
}

/**
 * The wrangler config keys that shape the bundle (docs/configuration.md, "How apps are built"):
 * `createRuntime()`'s `build` option.
 */
export interface BuildKeys {
  /** `[[rules]]`: module rules, applied before wrangler's defaults. */
  rules?: readonly ModuleRule[];
  /** `define`: identifiers replaced with JavaScript expressions, e.g. `{ DEBUG: "true" }`. */
  define?: Readonly<Record<string, string>>;
  /** `alias`: package names replaced with other packages or paths. */
  alias?: Readonly<Record<string, string>>;
  /** `tsconfig`: a tsconfig.json to use instead of the nearest one to each file. */
  tsconfig?: string;
  /** `jsx_factory` (default `React.createElement`). */
  jsxFactory?: string;
  /** `jsx_fragment` (default `React.Fragment`). */
  jsxFragment?: string;
  /** `minify` (default false). */
  minify?: boolean;
  /** `keep_names` (default true): functions and classes keep their `name` when renamed. */
  keepNames?: boolean;
  /** What `process.env.NODE_ENV` reads as in the bundle (default: `NODE_ENV`, else `"production"`). */
  nodeEnv?: string;
}
