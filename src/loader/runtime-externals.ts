import { builtinModules } from "node:module";
import { extname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Plugin } from "esbuild";

/** Stead's own sources (or built files): one copy of the runtime per process, never bundled. */
const STEAD_SOURCES = fileURLToPath(new URL("../", import.meta.url));
const STEAD_PACKAGE = fileURLToPath(new URL("../../", import.meta.url));

/** Compatibility flags under which bare Node built-in names (`fs`, `buffer`) are Node's. */
const NODE_COMPAT_FLAGS = ["nodejs_compat", "nodejs_compat_v2"];

/**
 * Imports the runtime serves instead of the bundle:
 * - `cloudflare:*` stays as it is, for the module hooks of `embedded/module-loader.ts`;
 * - `node:*` stays as it is, served by Node. Wrangler marks these external with or without
 *   `nodejs_compat` (without it, it warns that they may fail on Cloudflare; on Node they work);
 * - bare built-in names (`fs`, `buffer/`) become `node:` imports under `nodejs_compat` or
 *   `nodejs_compat_v2`. Without the flag esbuild fails to resolve them, as with wrangler;
 * - `stead` and its subpaths, and Stead's own files imported by path, become imports of the
 *   running copy of Stead, so the app's `DurableObject` is the runtime's and module state
 *   (gates, the current object) is shared;
 * - `file:` URL imports, which Node takes and esbuild does not, are bundled as the files they name.
 */
export function runtimeExternalsPlugin(options: {
  entry: string;
  compatibilityFlags: readonly string[];
}): Plugin {
  const { compatibilityFlags } = options;
  return {
    name: "stead-runtime-externals",
    setup(build) {
      build.onResolve({ filter: /^(cloudflare|node):/ }, (args) => ({
        path: args.path,
        external: true,
      }));
      if (hasNodeCompat(compatibilityFlags)) {
        const names = builtinModules
          .filter((name) => !name.startsWith("_") && !name.includes(":"))
          .map((name) => name.replace(/[/.]/g, "\\$&"));
        build.onResolve({ filter: new RegExp(`^(${names.join("|")})(/.*)?$`) }, (args) => ({
          path: `node:${args.path}`,
          external: true,
        }));
      }
      // Node imports `file:` URLs; esbuild does not, so they become the paths they name.
      build.onResolve({ filter: /^file:/ }, (args) => ({ path: fileURLToPath(args.path) }));
      build.onResolve({ filter: /^stead(\/.*)?$/ }, (args) => {
        const url = steadEntry(args.path);
        return url === undefined ? undefined : { path: url, external: true };
      });
      // Only apps inside Stead's own package (its tests and templates) can reach its files by a
      // relative path; other apps skip this hook, which esbuild would call for every import.
      if (!options.entry.startsWith(STEAD_PACKAGE)) return;
      build.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData?.steadSource === true) return undefined;
        if (!resolve(args.resolveDir, args.path).startsWith(STEAD_SOURCES)) return undefined;
        const resolved = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { steadSource: true },
        });
        if (resolved.errors.length > 0 || !resolved.path.startsWith(STEAD_SOURCES)) {
          return undefined;
        }
        return { path: pathToFileURL(resolved.path).href, external: true };
      });
    },
  };
}

/** The package's entry points, by specifier, as modules of the running Stead (sources or build). */
const STEAD_ENTRIES: Readonly<Record<string, string>> = {
  stead: "index",
  "stead/testing": "testing/index",
  "stead/register": "register",
  "stead/server": "server/index",
};

/**
 * The running copy of Stead's module for `stead` or one of its subpaths: the app then shares the
 * runtime's classes and state, whether Stead runs from its sources or from its build.
 */
function steadEntry(specifier: string): string | undefined {
  const path = STEAD_ENTRIES[specifier];
  if (path === undefined) return undefined;
  const extension = extname(new URL(import.meta.url).pathname);
  return new URL(`../${path}${extension}`, import.meta.url).href;
}

/** Whether the flags turn on Node.js compatibility (`nodejs_compat`, `nodejs_compat_v2`). */
export function hasNodeCompat(compatibilityFlags: readonly string[]): boolean {
  return compatibilityFlags.some((flag) => NODE_COMPAT_FLAGS.includes(flag));
}
