// The workerd side of the comparison: the same app module (types stripped) in a generated
// config with SQLite-backed Durable Object classes stored on local disk.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire, stripTypeScriptTypes } from "node:module";
import { join } from "node:path";
import { parse } from "jsonc-parser";

interface WranglerConfig {
  main: string;
  compatibility_date: string;
  durable_objects: { bindings: Array<{ name: string; class_name: string }> };
  migrations: Array<{ new_sqlite_classes?: string[] }>;
  assets?: { directory: string; binding?: string };
}

/** The benchmark app as both runtimes need it. */
export interface BenchApp {
  /** Directory holding wrangler.jsonc (what `stead start` serves). */
  dir: string;
  /** The entry module's source, TypeScript. */
  source: string;
  compatibilityDate: string;
  bindings: Array<{ name: string; className: string }>;
  sqliteClasses: string[];
  /** The static assets: their directory (absolute) and binding, served by a disk service. */
  assets: { directory: string; binding: string } | undefined;
}

export function loadBenchApp(dir: string): BenchApp {
  const config = parse(readFileSync(join(dir, "wrangler.jsonc"), "utf8")) as WranglerConfig;
  return {
    dir,
    source: readFileSync(join(dir, config.main), "utf8"),
    compatibilityDate: config.compatibility_date,
    bindings: config.durable_objects.bindings.map((b) => ({
      name: b.name,
      className: b.class_name,
    })),
    sqliteClasses: config.migrations.flatMap((m) => m.new_sqlite_classes ?? []),
    assets:
      config.assets?.binding === undefined
        ? undefined
        : { directory: join(dir, config.assets.directory), binding: config.assets.binding },
  };
}

/**
 * Writes `<dir>/index.js` (the app with its types stripped) and `<dir>/config.capnp` serving it
 * on `127.0.0.1:<port>`, objects stored under `<dir>/do`. Returns the config's path.
 */
export function writeWorkerdConfig(app: BenchApp, dir: string, port: number): string {
  const previous = process.emitWarning;
  // stripTypeScriptTypes is marked experimental; its warning is noise here.
  process.emitWarning = () => {};
  let js: string;
  try {
    js = stripTypeScriptTypes(app.source);
  } finally {
    process.emitWarning = previous;
  }
  writeFileSync(join(dir, "index.js"), js);
  const storage = join(dir, "do");
  const bindings = [
    ...app.bindings.map(
      (b) => `    (name = ${text(b.name)}, durableObjectNamespace = ${text(b.className)}),`,
    ),
    // workerd serves the same directory through a disk service the Worker forwards to.
    ...(app.assets === undefined
      ? []
      : [`    (name = ${text(app.assets.binding)}, service = "assets"),`]),
  ].join("\n");
  const namespaces = app.bindings
    .map(
      (b) =>
        `    (className = ${text(b.className)}, uniqueKey = ${text(`bench-${b.className}`)}, enableSql = ${app.sqliteClasses.includes(b.className)}),`,
    )
    .join("\n");
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .app),
    (name = "disk", disk = (path = ${text(storage)}, writable = true)),${
      app.assets === undefined
        ? ""
        : `\n    (name = "assets", disk = (path = ${text(app.assets.directory)}, writable = false)),`
    }
  ],
  sockets = [(name = "http", address = ${text(`127.0.0.1:${port}`)}, http = (), service = "main")],
);

const app :Workerd.Worker = (
  modules = [(name = "index.js", esModule = embed "index.js")],
  compatibilityDate = ${text(app.compatibilityDate)},
  bindings = [
${bindings}
  ],
  durableObjectNamespaces = [
${namespaces}
  ],
  durableObjectStorage = (localDisk = "disk"),
);
`;
  const path = join(dir, "config.capnp");
  writeFileSync(path, config);
  return path;
}

function text(value: string): string {
  return JSON.stringify(value);
}

/** The workerd binary from the `workerd` npm package (its platform package). */
export function workerdBinary(): string {
  const require = createRequire(import.meta.url);
  return (require("workerd") as { default: string }).default;
}

/** The `workerd` npm package's version, e.g. "1.20261117.1". */
export function workerdPackageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("workerd/package.json") as { version: string }).version;
}
