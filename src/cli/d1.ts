import { mkdir, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import {
  appliedD1Migrations,
  applyD1Migrations,
  type D1Database,
  type D1Migration,
  DEFAULT_MIGRATIONS_TABLE,
  readD1Migrations,
} from "../bindings/d1/index.ts";
import { type AppD1Database, loadAppConfig } from "../config/load-app-config.ts";
import { createRuntimeWith } from "../embedded/create-runtime.ts";
import { resolveServerOptions, type ServerFlags, UsageError } from "./options.ts";

/** The flags of `stead d1 migrations ...`: where the app and its data are. */
export type D1Flags = Pick<ServerFlags, "dataDir" | "env" | "storage">;

/** `stead d1 migrations list`: the migrations of `binding` not applied yet. */
export async function d1MigrationsListCommand(
  binding: string,
  dir: string | undefined,
  flags: D1Flags,
  write: (text: string) => void,
): Promise<void> {
  await withMigrations(binding, dir, flags, async (db, database, migrations) => {
    const applied = new Set(await appliedD1Migrations(db, table(database)));
    const pending = migrations.filter(({ name }) => !applied.has(name));
    write(
      pending.length === 0
        ? `No migrations to apply to ${binding}: all ${migrations.length} in ${shown(database.migrations_dir)} are applied.\n`
        : `Migrations to apply to ${binding}, in order:\n${pending.map(({ name }) => `  ${name}\n`).join("")}`,
    );
  });
}

/** `stead d1 migrations apply`: applies the migrations of `binding` not applied yet, in order. */
export async function d1MigrationsApplyCommand(
  binding: string,
  dir: string | undefined,
  flags: D1Flags,
  write: (text: string) => void,
): Promise<void> {
  await withMigrations(binding, dir, flags, async (db, database, migrations) => {
    const applied = await applyD1Migrations(db, migrations, table(database), (name) =>
      write(`Applied ${name}\n`),
    );
    write(
      applied.length === 0
        ? `No migrations to apply to ${binding}.\n`
        : `${applied.length} migration${applied.length === 1 ? "" : "s"} applied to ${binding}.\n`,
    );
  });
}

/** `stead d1 migrations create`: a new, empty, numbered migration file. */
export async function d1MigrationsCreateCommand(
  binding: string,
  message: string,
  dir: string | undefined,
  flags: D1Flags,
  write: (text: string) => void,
): Promise<void> {
  const database = await databaseOf(binding, dir, flags);
  const folder = database.migrations_dir;
  await mkdir(folder, { recursive: true });
  const existing = await readD1Migrations(folder);
  const last = Math.max(0, ...existing.map(({ name }) => Number.parseInt(name, 10) || 0));
  const slug = message
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_|_$/g, "");
  if (slug === "") {
    throw new UsageError(`The migration needs a name of letters or digits, like "add_users".`);
  }
  const name = `${String(last + 1).padStart(4, "0")}_${slug}.sql`;
  const file = join(folder, name);
  await writeFile(file, `-- Migration number: ${name.slice(0, 4)}\n`, { flag: "wx" });
  write(`Created ${shown(file)}\n`);
}

/** Reads the migrations of `binding`, then opens its database (see `withDatabase`) for `use`. */
async function withMigrations(
  binding: string,
  dir: string | undefined,
  flags: D1Flags,
  use: (db: D1Database, database: AppD1Database, migrations: D1Migration[]) => Promise<void>,
): Promise<void> {
  const database = await databaseOf(binding, dir, flags);
  const folder = database.migrations_dir;
  // Checked here, not left to readD1Migrations: its plain Error would print with a stack trace.
  if (!(await stat(folder).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(
      `No migrations folder at ${folder}. Create the first migration with "stead d1 migrations create ${binding} <message>", or set migrations_dir of the ${binding} entry of d1_databases to the folder that holds them.`,
    );
  }
  const migrations = await readD1Migrations(folder);
  await withDatabase(database, dir, flags, (db) => use(db, database, migrations));
}

async function databaseOf(
  binding: string,
  dir: string | undefined,
  flags: D1Flags,
): Promise<AppD1Database> {
  const location = resolveServerOptions(dir, flags, { dev: false });
  // As `wrangler d1 migrations`: the user's own config, never a build's generated one.
  const config = await loadAppConfig(location.dir, {
    env: location.env,
    main: location.main,
    followRedirect: false,
  });
  const databases = config.runtimeOptions.d1_databases ?? [];
  const database = databases.find((entry) => entry.binding === binding);
  if (database === undefined) {
    throw new UsageError(
      `${config.configPath} has no D1 binding named ${binding}${databases.length === 0 ? " (d1_databases is empty)" : `; its d1_databases bind ${databases.map((entry) => entry.binding).join(", ")}`}. Name one of them, or add { "binding": "${binding}", "database_name": "..." } to d1_databases.`,
    );
  }
  return database;
}

/**
 * Opens the app's data (the data directory, and PostgreSQL with `--storage`) with only the D1
 * database in it: the app's code is not loaded. A server holding the data directory makes this
 * fail at once, naming it.
 */
async function withDatabase(
  database: AppD1Database,
  dir: string | undefined,
  flags: D1Flags,
  use: (db: D1Database) => Promise<void>,
): Promise<void> {
  const options = resolveServerOptions(dir, flags, { dev: false });
  if (options.cluster !== undefined) {
    throw new UsageError(
      "stead d1 migrations works on a data directory (and --storage), not on a cluster whose nodes hold the database. Run it with --storage <the cluster's URL> while the cluster is stopped.",
    );
  }
  await using runtime = await createRuntimeWith(
    {
      main: {},
      d1_databases: [database],
      dataDir: options.dataDir,
      ...(options.storage === undefined ? {} : { storage: options.storage }),
    },
    {},
  );
  await use(runtime.env[database.binding] as D1Database);
}

function table(database: AppD1Database): string {
  return database.migrations_table ?? DEFAULT_MIGRATIONS_TABLE;
}

function shown(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith("..") ? path : relativePath;
}
