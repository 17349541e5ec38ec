import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { applyEdits, modify } from "jsonc-parser";
import { UsageError } from "./options.ts";
import { DEFAULT_TEMPLATE, listTemplates, type Template } from "./templates.ts";

/** Stead's own package root (`src/cli/` or `dist/cli/` is two levels below it). */
const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The container recipe every app gets (docs/deploy.md). */
const DOCKERFILE = join(PACKAGE_ROOT, "deploy", "Dockerfile");

export interface InitOptions {
  /** Where the app goes; created if missing. */
  dir: string;
  /** A template name from `templates/`. */
  template: string;
}

/**
 * `stead init [dir] [--template NAME]`: writes a runnable app into `dir` — the template's
 * wrangler config, code, tests and README, plus package.json, .gitignore, tsconfig files and a
 * Dockerfile —
 * and prints the commands to run it. Refuses, writing nothing, when any of those files exists.
 */
export function initCommand(options: InitOptions, log: (line: string) => void): void {
  const templates = listTemplates();
  const template = templates.find((candidate) => candidate.name === options.template);
  if (template === undefined) {
    throw new UsageError(
      `There is no template named "${options.template}". The templates are: ${templates.map((t) => t.name).join(", ")}. Pick one with --template NAME, or leave it out for "${DEFAULT_TEMPLATE}".`,
    );
  }
  const target = resolve(options.dir);
  if (existsSync(target) && !statSync(target).isDirectory()) {
    throw new UsageError(`${target} is a file. Pass a new or empty directory for the app.`);
  }
  const files = appFiles(template, target);
  const existing = [...files.keys()].filter((path) => existsSync(join(target, path))).sort();
  if (existing.length > 0) {
    throw new UsageError(
      `${target} already has ${existing.join(", ")}, which stead init would overwrite. Nothing was written: pass a new or empty directory (stead init my-app).`,
    );
  }
  for (const [path, text] of files) {
    mkdirSync(dirname(join(target, path)), { recursive: true });
    writeFileSync(join(target, path), text);
  }
  const cd = relative(process.cwd(), target);
  log(`Created a ${template.name} app in ${target}: ${template.description}`);
  log("");
  log("Next:");
  if (cd !== "") log(`  cd ${cd.includes(" ") ? JSON.stringify(cd) : cd}`);
  log("  npm install");
  log("  npm run dev     # serves it on http://127.0.0.1:8787, reloading on change");
  log("  npm test        # the app's own tests");
}

/** Path (relative, `/`-separated) -> contents of every file the app gets. */
function appFiles(template: Template, target: string): Map<string, string> {
  const name = appName(target);
  const files = new Map<string, string>();
  for (const path of template.files) {
    const text = readFileSync(join(template.dir, path), "utf8");
    files.set(path, path === "wrangler.jsonc" ? withWorkerName(text, name) : text);
  }
  files.set("package.json", `${JSON.stringify(packageJson(template, name, target), null, 2)}\n`);
  files.set(".gitignore", GITIGNORE);
  files.set("Dockerfile", readFileSync(DOCKERFILE, "utf8"));
  files.set(".dockerignore", DOCKERIGNORE);
  files.set("tsconfig.json", `${JSON.stringify(APP_TSCONFIG, null, 2)}\n`);
  files.set("test/tsconfig.json", `${JSON.stringify(TEST_TSCONFIG, null, 2)}\n`);
  return files;
}

/** A name for the package and the Worker from the directory's: lowercase letters, digits, dashes. */
function appName(target: string): string {
  const name = basename(target)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return name === "" ? "app" : name;
}

function withWorkerName(config: string, name: string): string {
  const edits = modify(config, ["name"], name, {
    formattingOptions: { insertSpaces: true, tabSize: 2 },
  });
  return applyEdits(config, edits);
}

function packageJson(template: Template, name: string, target: string) {
  const stead = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")) as {
    version: string;
    engines: { node: string };
    devDependencies: Record<string, string>;
  };
  const ours = (packages: string[]) =>
    Object.fromEntries(packages.map((pkg) => [pkg, stead.devDependencies[pkg]!]));
  return {
    name,
    private: true,
    description: template.description,
    type: "module",
    engines: stead.engines,
    scripts: {
      dev: "stead dev",
      start: "stead start",
      test: 'node --test "test/**/*.test.ts"',
      // The Worker, the tests, and any other part with its own tsconfig (a browser client).
      typecheck: [".", "test", ...projectsOf(template)].map((dir) => `tsc -p ${dir}`).join(" && "),
    },
    dependencies: sorted({
      stead: steadDependency(stead.version, target),
      ...template.dependencies,
    }),
    devDependencies: sorted({
      ...ours(["@cloudflare/workers-types", "@types/node", "typescript"]),
      ...template.devDependencies,
    }),
  };
}

/**
 * How the app depends on Stead: the range of this version, or, when this copy was installed from
 * a tarball or folder (`npm install ./stead-0.1.0.tgz`, as before a release), that same file, so
 * `npm install` in the new app installs this copy.
 */
function steadDependency(version: string, target: string): string {
  if (basename(dirname(PACKAGE_ROOT)) === "node_modules") {
    const project = dirname(dirname(PACKAGE_ROOT));
    try {
      const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
      const spec: unknown = manifest.dependencies?.stead ?? manifest.devDependencies?.stead;
      if (typeof spec === "string" && spec.startsWith("file:")) {
        const path = relative(target, resolve(project, spec.slice("file:".length)));
        return `file:${path.split("\\").join("/")}`;
      }
    } catch {
      // No readable package.json beside node_modules (a global install): use the range.
    }
  }
  return `^${version}`;
}

/** Directories of the template holding a tsconfig.json of their own. */
function projectsOf(template: Template): string[] {
  return template.files
    .filter((path) => path.endsWith("/tsconfig.json"))
    .map((path) => path.slice(0, -"/tsconfig.json".length));
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

const GITIGNORE = `node_modules/
# Local object data of stead dev and stead start.
.stead/
# Secrets for local development.
.dev.vars*
build/
`;

/** What `docker build` leaves out: installed packages (the image installs its own) and data. */
const DOCKERIGNORE = `node_modules
.stead
.dev.vars*
build
.git
`;

/** The Worker's code is checked against Cloudflare's Workers types, resolved as a bundler does. */
const APP_TSCONFIG = {
  compilerOptions: {
    target: "es2024",
    lib: ["es2024"],
    module: "esnext",
    moduleResolution: "bundler",
    types: ["@cloudflare/workers-types"],
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
    isolatedModules: true,
    allowImportingTsExtensions: true,
  },
  include: ["src"],
};

/** The tests run on Node (types stripped), so they are checked against Node's types. */
const TEST_TSCONFIG = {
  compilerOptions: {
    target: "es2024",
    lib: ["es2024", "esnext.disposable", "dom"],
    module: "nodenext",
    moduleResolution: "nodenext",
    types: ["node"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    verbatimModuleSyntax: true,
    erasableSyntaxOnly: true,
    allowImportingTsExtensions: true,
  },
  include: ["."],
};
