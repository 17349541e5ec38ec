// The workerd side of the comparison: the same app module (types stripped) in a generated
// config with SQLite-backed Durable Object classes stored on local disk, and a D1 server of
// the bench's own (bench/workerd/d1-server.ts) behind each D1 binding.
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
  d1_databases?: Array<{ binding: string; database_id: string }>;
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
  /** D1 bindings; on workerd each database is one object of a D1 server Worker. */
  d1Databases: Array<{ binding: string; databaseId: string }>;
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
    d1Databases: (config.d1_databases ?? []).map((d) => ({
      binding: d.binding,
      databaseId: d.database_id,
    })),
  };
}

const D1_SERVER = new URL("../workerd/d1-server.ts", import.meta.url);

/**
 * Writes `<dir>/index.js` (the app with its types stripped) and `<dir>/config.capnp` serving it
 * on `127.0.0.1:<port>`, objects stored under `<dir>/do`. With D1 bindings, also
 * `<dir>/d1-server.js` and one service per database running it. Returns the config's path.
 */
export function writeWorkerdConfig(app: BenchApp, dir: string, port: number): string {
  writeFileSync(join(dir, "index.js"), stripTypes(app.source));
  if (app.d1Databases.length > 0) {
    writeFileSync(join(dir, "d1-server.js"), stripTypes(readFileSync(D1_SERVER, "utf8")));
  }
  const storage = join(dir, "do");
  const bindings = [
    ...app.bindings.map(
      (b) => `    (name = ${text(b.name)}, durableObjectNamespace = ${text(b.className)}),`,
    ),
    // workerd serves the same directory through a disk service the Worker forwards to.
    ...(app.assets === undefined
      ? []
      : [`    (name = ${text(app.assets.binding)}, service = "assets"),`]),
    // workerd's own D1 client, talking to the database's D1 server service.
    ...app.d1Databases.map(
      (d) =>
        `    (name = ${text(d.binding)}, wrapped = (moduleName = "cloudflare-internal:d1-api", innerBindings = [(name = "fetcher", service = ${text(d1Service(d))})])),`,
    ),
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
    }${app.d1Databases.map((d) => `\n    (name = ${text(d1Service(d))}, worker = ${d1Worker(d, app.compatibilityDate)}),`).join("")}
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

/** The D1 server of one database: its own namespace, whose one object holds the database. */
function d1Worker(database: BenchApp["d1Databases"][number], compatibilityDate: string): string {
  return `(
      modules = [(name = "d1-server.js", esModule = embed "d1-server.js")],
      compatibilityDate = ${text(compatibilityDate)},
      bindings = [(name = "DATABASE", durableObjectNamespace = "D1DatabaseObject")],
      durableObjectNamespaces = [
        (className = "D1DatabaseObject", uniqueKey = ${text(`bench-d1-${database.databaseId}`)}, enableSql = true),
      ],
      durableObjectStorage = (localDisk = "disk"),
    )`;
}

function d1Service(database: BenchApp["d1Databases"][number]): string {
  return `d1-${database.databaseId}`;
}

/** The TypeScript source as JavaScript: erasable syntax only, so the types are stripped. */
function stripTypes(source: string): string {
  const previous = process.emitWarning;
  // stripTypeScriptTypes is marked experimental; its warning is noise here.
  process.emitWarning = () => {};
  try {
    return stripTypeScriptTypes(source);
  } finally {
    process.emitWarning = previous;
  }
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
