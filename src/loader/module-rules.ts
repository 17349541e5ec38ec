import { readFile } from "node:fs/promises";
import type { Plugin } from "esbuild";

/** How a file matched by a module rule is imported (wrangler's `[[rules]]` `type`). */
export type ModuleRuleType = "ESModule" | "CommonJS" | "Text" | "Data" | "CompiledWasm";

/** One `[[rules]]` entry of a wrangler config. */
export interface ModuleRule {
  type: ModuleRuleType;
  /** Globs matched against the import specifier, e.g. `**\/*.html`. */
  globs: string[];
  /** Let a later rule of the same type apply too (wrangler's default: the first rule wins). */
  fallthrough?: boolean;
}

/** Wrangler's default rules, applied after the config's own. */
export const DEFAULT_MODULE_RULES: readonly ModuleRule[] = [
  { type: "Text", globs: ["**/*.txt", "**/*.html", "**/*.sql"] },
  { type: "Data", globs: ["**/*.bin"] },
  { type: "CompiledWasm", globs: ["**/*.wasm", "**/*.wasm?module"] },
];

/** The rules in force, and those shadowed by an earlier rule of their type without fallthrough. */
export interface ParsedRules {
  active: ModuleRule[];
  shadowed: ModuleRule[];
}

/**
 * The config's rules followed by the defaults. As in wrangler, the first rule of a type that does
 * not set `fallthrough: true` ends that type: later rules of the type are shadowed, and a file
 * they alone match fails the build instead of being loaded some other way.
 */
export function parseRules(rules: readonly ModuleRule[] = []): ParsedRules {
  const closed = new Set<ModuleRuleType>();
  const active: ModuleRule[] = [];
  const shadowed: ModuleRule[] = [];
  for (const rule of [...rules, ...DEFAULT_MODULE_RULES]) {
    if (closed.has(rule.type)) {
      shadowed.push(rule);
      continue;
    }
    active.push(rule);
    if (rule.fallthrough !== true) closed.add(rule.type);
  }
  return { active, shadowed };
}

/**
 * A glob as wrangler matches it against an import specifier: `*` (and `**`) match any
 * characters, `/` included; everything else, `?` included, is literal.
 */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split(/\*+/)
    .map((part) => part.replace(/[-/\\^$+?.()|[\]{}]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`);
}

const NAMESPACE = "stead-module-rule";

/**
 * Loads files matched by Text, Data and CompiledWasm rules as workerd does: the default export is
 * a string, an ArrayBuffer or a `WebAssembly.Module`. The content is inlined in the bundle, so
 * the bundle stays one file every object thread can import. JavaScript rules (ESModule,
 * CommonJS) are left to esbuild, as wrangler does without `find_additional_modules`.
 */
export function moduleRulesPlugin(rules: ParsedRules): Plugin {
  return {
    name: "stead-module-rules",
    setup(build) {
      const claim = (rule: ModuleRule, glob: string, shadowed: boolean) =>
        build.onResolve({ filter: globToRegExp(glob) }, async (args) => {
          if (args.pluginData?.steadRule === true) return undefined;
          if (shadowed) {
            return {
              errors: [
                {
                  text: `${args.path} matches the module rule ${JSON.stringify(rule)}, which is ignored because an earlier rule of type ${rule.type} does not set fallthrough = true. Add fallthrough = true to that rule, or remove this one.`,
                },
              ],
            };
          }
          const resolved = await build.resolve(args.path.replace(/\?.*$/, ""), {
            kind: args.kind,
            importer: args.importer,
            resolveDir: args.resolveDir,
            pluginData: { steadRule: true },
          });
          if (resolved.errors.length > 0) return { errors: resolved.errors };
          return {
            path: resolved.path,
            namespace: NAMESPACE,
            pluginData: { type: rule.type },
            watchFiles: [resolved.path],
          };
        });
      for (const rule of rules.active) {
        if (rule.type === "ESModule" || rule.type === "CommonJS") continue;
        for (const glob of rule.globs) claim(rule, glob, false);
      }
      for (const rule of rules.shadowed) {
        if (rule.type === "ESModule" || rule.type === "CommonJS") continue;
        for (const glob of rule.globs) claim(rule, glob, true);
      }
      build.onLoad({ filter: /.*/, namespace: NAMESPACE }, async (args) => {
        const bytes = await readFile(args.path);
        const type = (args.pluginData as { type: ModuleRuleType }).type;
        if (type === "Text") return { contents: bytes, loader: "text" };
        const base64 = JSON.stringify(bytes.toString("base64"));
        const value =
          type === "Data"
            ? "bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)"
            : "new WebAssembly.Module(bytes)";
        return {
          contents: `import { Buffer } from "node:buffer";\nconst bytes = Buffer.from(${base64}, "base64");\nexport default ${value};\n`,
          loader: "js",
        };
      });
    },
  };
}
