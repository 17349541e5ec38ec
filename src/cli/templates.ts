import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { formatOptionIssues } from "../core/invalid-options.ts";

/**
 * The templates `stead init` scaffolds from: `templates/<name>/` in Stead's package, the same
 * directories the repository runs and tests as its example apps (from `src/cli/` and from
 * `dist/cli/` alike, the package root is two levels up).
 */
export const TEMPLATES_DIR = fileURLToPath(new URL("../../templates/", import.meta.url));

/** The template a bare `stead init` uses. */
export const DEFAULT_TEMPLATE = "counter";

/**
 * Files and directories of a template directory that are not part of the app: its manifest, and
 * what running it in the repository leaves behind.
 */
const NOT_COPIED = new Set(["template.json", ".stead", "node_modules", "build"]);

const manifestSchema = z
  .object({
    /** One line for `stead init --help` and the app's package.json. */
    description: z.string().min(1),
    /** Packages the app needs beyond Stead (name -> version range), e.g. yjs. */
    dependencies: z.record(z.string(), z.string()).optional(),
    devDependencies: z.record(z.string(), z.string()).optional(),
  })
  .strict();

/** A template's `template.json`, with its name and files. */
export interface Template extends z.infer<typeof manifestSchema> {
  name: string;
  dir: string;
  /** Paths of the app's files, relative to `dir`, `/`-separated, sorted. */
  files: string[];
}

/** Every template shipped with Stead, sorted by name. */
export function listTemplates(): Template[] {
  return readdirSync(TEMPLATES_DIR, { withFileTypes: true })
    .filter(
      (entry) =>
        entry.isDirectory() && existsSync(join(TEMPLATES_DIR, entry.name, "template.json")),
    )
    .map((entry) => readTemplate(entry.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function readTemplate(name: string): Template {
  const dir = join(TEMPLATES_DIR, name);
  const manifestPath = join(dir, "template.json");
  const result = manifestSchema.safeParse(JSON.parse(readFileSync(manifestPath, "utf8")));
  if (!result.success) {
    // Only a broken package or checkout gets here: templates are tested in the repository.
    throw new Error(formatOptionIssues(manifestPath, result.error.issues));
  }
  return { name, dir, ...result.data, files: appFiles(dir, dir).sort() };
}

function appFiles(root: string, dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (NOT_COPIED.has(entry.name)) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return appFiles(root, path);
    return [relative(root, path).split("\\").join("/")];
  });
}
