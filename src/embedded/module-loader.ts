import { existsSync, readFileSync } from "node:fs";
import { createRequire, registerHooks, stripTypeScriptTypes } from "node:module";
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { cloudflareModuleUrl, isCloudflareSpecifier } from "../cloudflare/specifiers.ts";
import { errorMessage } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";

/** Stead's own sources: erasable TypeScript that Node strips natively. */
const STEAD_SOURCES = new URL("../", import.meta.url).href;
const TYPESCRIPT = /\.(?:ts|mts|cts)$/;
/** What bundler-style specifiers (`./room`, `./room.js` for room.ts) may stand for. */
const CANDIDATES = [".ts", ".js", ".mts", ".mjs", "/index.ts", "/index.js"];
let hooksRegistered = false;

/**
 * Makes every module loaded in this process see Cloudflare's module environment:
 * - `cloudflare:*` specifiers resolve to Stead's modules (src/cloudflare/);
 * - TypeScript is compiled in full (enums, namespaces, parameter properties), not only stripped;
 * - relative imports resolve as wrangler's bundler resolves them: without an extension, or with
 *   `.js` naming a `.ts` file.
 * Dependencies under node_modules are left to Node. Idempotent.
 */
export function registerWorkersModule(): void {
  if (hooksRegistered) return;
  hooksRegistered = true;
  process.setSourceMapsEnabled(true);
  const require = createRequire(import.meta.url);
  let amaro: { transformSync(code: string, options: object): { code: string; map?: string } };
  registerHooks({
    resolve(specifier, context, nextResolve) {
      if (isCloudflareSpecifier(specifier)) {
        return { url: cloudflareModuleUrl(specifier), shortCircuit: true };
      }
      try {
        return nextResolve(specifier, context);
      } catch (error) {
        const parent = context.parentURL;
        if (!isRelative(specifier) || parent === undefined || isDependency(parent)) throw error;
        const base = specifier.endsWith(".js") ? specifier.slice(0, -3) : specifier;
        for (const suffix of CANDIDATES) {
          const url = new URL(base + suffix, parent);
          if (existsSync(fileURLToPath(url))) return { url: url.href, shortCircuit: true };
        }
        throw error;
      }
    },
    load(url, context, nextLoad) {
      if (
        !TYPESCRIPT.test(url) ||
        !url.startsWith("file:") ||
        url.startsWith(STEAD_SOURCES) ||
        isDependency(url)
      ) {
        return nextLoad(url, context);
      }
      const filename = fileURLToPath(url);
      const format = url.endsWith(".cts") ? "commonjs" : "module";
      const text = readFileSync(filename, "utf8");
      try {
        // Node's own type stripper (already loaded for Stead's sources) handles erasable syntax
        // and keeps positions, so most apps never load amaro's second compiler (~40 MB).
        return { format, source: stripTypes(text), shortCircuit: true };
      } catch (error) {
        if ((error as { code?: string }).code !== "ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX") throw error;
      }
      amaro ??= require("amaro");
      const { code, map } = amaro.transformSync(text, {
        mode: "transform",
        sourceMap: true,
        filename,
      });
      const source =
        map === undefined
          ? code
          : `${code}\n//# sourceMappingURL=data:application/json;base64,${Buffer.from(map).toString("base64")}`;
      return { format, source, shortCircuit: true };
    },
  });
}

/**
 * `module.stripTypeScriptTypes` is what Node itself runs on `.ts` files; it is still flagged
 * experimental, and its one-time warning would read as a problem with the user's app.
 */
function stripTypes(code: string): string {
  const emitWarning = process.emitWarning;
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(code);
  } finally {
    process.emitWarning = emitWarning;
  }
}

function isRelative(specifier: string): boolean {
  return specifier.startsWith("./") || specifier.startsWith("../");
}

function isDependency(url: string): boolean {
  return url.includes("/node_modules/");
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
    throw new SteadError(
      "MODULE_LOAD_FAILED",
      `Could not load the entry module ${url}: ${errorMessage(cause)}`,
      { cause },
    );
  }
}
