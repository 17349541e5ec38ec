import { basename, extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { build, type BuildOptions as EsbuildOptions } from "esbuild";
import { createBuildDir, removeBuildDir } from "./build-dir.ts";
import { buildError } from "./build-error.ts";
import type { BuildOptions } from "./build-options.ts";
import { moduleRulesPlugin, parseRules } from "./module-rules.ts";
import { hasNodeCompat, runtimeExternalsPlugin } from "./runtime-externals.ts";

/** Package `exports` conditions, in wrangler's order (`default`, `import` always apply too). */
export const BUILD_CONDITIONS = ["workerd", "worker", "browser"];

/** A built app: one ES module file (with its source map) that any thread can import. */
export interface AppBuild {
  /** The bundle's `file:` URL; new for every build, so a rebuild is never served from cache. */
  readonly url: string;
  /** How long esbuild took, in milliseconds. */
  readonly durationMs: number;
  /** Removes the bundle; call once nothing will import it again. */
  dispose(): void;
}

/**
 * Bundles the app as wrangler does before workerd sees it: TypeScript (type-only imports
 * elided) and JSX, tsconfig `paths`, package `exports` resolved with the `workerd`, `worker`
 * and `browser` conditions, module rules (`.html`/`.txt`/`.sql` text, `.bin` data, `.wasm`
 * modules), `define` and `alias`. `cloudflare:*`, `node:*` and Stead itself stay external.
 * Throws `BUILD_FAILED` naming each error's file, line and column and the imports that led there.
 *
 * @example
 * const app = await buildApp({ entry: "/srv/app/src/index.ts", projectRoot: "/srv/app" });
 * const module = await import(app.url);
 */
export async function buildApp(options: BuildOptions): Promise<AppBuild> {
  const dir = createBuildDir();
  const outfile = join(dir, `${basename(options.entry, extname(options.entry))}.mjs`);
  const esbuildOptions = esbuildOptionsFor(options);
  const started = performance.now();
  try {
    await build({ ...esbuildOptions, outfile, write: true });
  } catch (error) {
    removeBuildDir(dir);
    throw await buildError(error, options, esbuildOptions);
  }
  return {
    url: pathToFileURL(outfile).href,
    durationMs: performance.now() - started,
    dispose: () => removeBuildDir(dir),
  };
}

/** esbuild's options for `options`, without an output location. */
export function esbuildOptionsFor(options: BuildOptions): EsbuildOptions {
  const nodeEnv = JSON.stringify(options.nodeEnv ?? process.env.NODE_ENV ?? "production");
  const compatibilityFlags = options.compatibilityFlags ?? [];
  const nodeCompat = hasNodeCompat(compatibilityFlags);
  return {
    entryPoints: [options.entry],
    absWorkingDir: options.projectRoot,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2024",
    supported: { "import-source": true },
    conditions: BUILD_CONDITIONS,
    loader: { ".js": "jsx", ".mjs": "jsx", ".cjs": "jsx" },
    sourcemap: "linked",
    keepNames: options.keepNames ?? true,
    minify: options.minify ?? false,
    define: {
      "process.env.NODE_ENV": nodeEnv,
      "global.process.env.NODE_ENV": nodeEnv,
      "globalThis.process.env.NODE_ENV": nodeEnv,
      ...options.define,
    },
    ...(options.alias === undefined ? {} : { alias: { ...options.alias } }),
    ...(options.tsconfig === undefined ? {} : { tsconfig: options.tsconfig }),
    ...(options.jsxFactory === undefined ? {} : { jsxFactory: options.jsxFactory }),
    ...(options.jsxFragment === undefined ? {} : { jsxFragment: options.jsxFragment }),
    // CommonJS dependencies that `require()` a built-in get Node's require (esbuild's shim uses
    // a `require` in scope), as wrangler's nodejs_compat turns those calls into imports.
    ...(nodeCompat
      ? {
          banner: {
            js: 'import { createRequire as __steadCreateRequire } from "node:module";\nconst require = __steadCreateRequire(import.meta.url);',
          },
        }
      : {}),
    plugins: [
      runtimeExternalsPlugin({ entry: options.entry, compatibilityFlags }),
      moduleRulesPlugin(parseRules(options.rules)),
    ],
    logLevel: "silent",
  };
}
