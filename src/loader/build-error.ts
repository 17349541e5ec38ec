import { builtinModules } from "node:module";
import { relative, resolve } from "node:path";
import { build, type BuildOptions as EsbuildOptions, type Message, type Plugin } from "esbuild";
import { errorMessage } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import type { BuildOptions } from "./build-options.ts";

/** Errors shown in full; the rest are counted. */
const SHOWN_ERRORS = 5;

/**
 * Turns an esbuild failure into `BUILD_FAILED`: each error as `file:line:column: message`, the
 * source line, esbuild's notes, and the chain of imports from the entry to the file. The chain
 * comes from a second build that records who imported what: it runs only after a failure.
 */
export async function buildError(
  error: unknown,
  options: BuildOptions,
  esbuildOptions: EsbuildOptions,
): Promise<SteadError> {
  const messages = (error as { errors?: Message[] }).errors;
  if (!Array.isArray(messages) || messages.length === 0) {
    return new SteadError(
      "BUILD_FAILED",
      `Could not build the app from ${options.entry}: ${errorMessage(error)}`,
      { cause: error },
    );
  }
  const importers = await recordImporters(esbuildOptions);
  const show = (path: string) => relative(options.projectRoot, path) || path;
  const parts = messages.slice(0, SHOWN_ERRORS).map((message) => {
    const lines: string[] = [];
    const location = message.location;
    if (location === null) {
      lines.push(`error: ${message.text}`);
    } else {
      const file = resolve(options.projectRoot, location.file);
      lines.push(`${show(file)}:${location.line}:${location.column + 1}: ${message.text}`);
      lines.push(`    ${location.line} | ${location.lineText}`);
      lines.push(
        `    ${" ".repeat(String(location.line).length)} | ${" ".repeat(location.column)}^`,
      );
      for (const importer of chainTo(file, importers))
        lines.push(`  imported by ${show(importer)}`);
    }
    for (const note of message.notes) if (note.text !== "") lines.push(`  note: ${note.text}`);
    const hint = fixHint(message.text);
    if (hint !== undefined) lines.push(`  ${hint}`);
    return lines.join("\n");
  });
  const more = messages.length - SHOWN_ERRORS;
  if (more > 0) parts.push(`... and ${more} more error${more === 1 ? "" : "s"}.`);
  return new SteadError(
    "BUILD_FAILED",
    `Could not build the app from ${show(options.entry)} (${messages.length} error${messages.length === 1 ? "" : "s"}):\n${parts.join("\n")}\nFix the file at the position shown; Stead builds the app with esbuild, as wrangler does.`,
    { cause: error },
  );
}

/** Each file's first importer, as far as a build of `esbuildOptions` gets. */
async function recordImporters(esbuildOptions: EsbuildOptions): Promise<Map<string, string>> {
  const importers = new Map<string, string>();
  const recorder: Plugin = {
    name: "stead-import-chain",
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData?.steadChain === true || args.kind === "entry-point") return undefined;
        const resolved = await pluginBuild.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: { ...args.pluginData, steadChain: true },
        });
        if (resolved.errors.length === 0 && !importers.has(resolved.path)) {
          importers.set(resolved.path, args.importer);
        }
        return undefined;
      });
    },
  };
  try {
    await build({
      ...esbuildOptions,
      write: false,
      outdir: undefined,
      outfile: "out.mjs",
      sourcemap: false,
      plugins: [recorder, ...(esbuildOptions.plugins ?? [])],
    });
  } catch {
    // Expected: it fails as the real build did.
  }
  return importers;
}

/** The importers of `file`, nearest first, up to the entry. */
function chainTo(file: string, importers: Map<string, string>): string[] {
  const chain: string[] = [];
  let current = importers.get(file);
  while (current !== undefined && !chain.includes(current)) {
    chain.push(current);
    current = importers.get(current);
  }
  return chain;
}

/** The fix for a file no loader or module rule covers, or a bare built-in that did not resolve. */
function fixHint(text: string): string | undefined {
  const extension = /^No loader is configured for "([^"]+)" files/.exec(text)?.[1];
  if (extension !== undefined) {
    return `Add a module rule for it to the wrangler config, e.g. "rules": [{ "type": "Data", "globs": ["**/*${extension}"] }] (or "Text" for a string).`;
  }
  const name = /^Could not resolve "([^"]+)"/.exec(text)?.[1];
  if (name === undefined || !builtinModules.includes(name.split("/")[0]!)) return undefined;
  return `"${name}" is a Node built-in: import it as "node:${name}", or add "nodejs_compat" to compatibility_flags in the wrangler config.`;
}
