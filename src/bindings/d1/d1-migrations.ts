import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../core/error-text.ts";
import { SteadError } from "../../core/errors.ts";
import { splitStatements } from "../../core/storage/sql-statements.ts";
import type { D1Database } from "./d1-database.ts";
import { DEFAULT_MIGRATIONS_TABLE } from "./d1-options.ts";

/** One migration file: its name (`0001_create_users.sql`) and its statements, in order. */
export interface D1Migration {
  name: string;
  queries: string[];
}

/**
 * The migrations in `dir`, as wrangler lays them out: every `.sql` file, in file-name order
 * (`0001_init.sql`, `0002_add_email.sql`, ...), split into statements.
 *
 * @example
 * const migrations = await readD1Migrations("./migrations");
 */
export async function readD1Migrations(dir: string): Promise<D1Migration[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith(".sql"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new Error(
      `No migrations folder at ${dir}. Create it and add numbered .sql files (0001_init.sql, ...), or set migrations_dir of the d1_databases entry.`,
    );
  }
  names.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  return Promise.all(
    names.map(async (name) => ({
      name,
      queries: splitStatements(await readFile(join(dir, name), "utf8")),
    })),
  );
}

/** The names of the migrations recorded as applied in `table`, in the order applied. */
export async function appliedD1Migrations(
  db: D1Database,
  table = DEFAULT_MIGRATIONS_TABLE,
): Promise<string[]> {
  await createTable(db, table);
  const rows = await db.prepare(`SELECT name FROM ${quote(table)} ORDER BY id`).raw<[string]>();
  return rows.map(([name]) => name);
}

/**
 * Applies the migrations not yet recorded in `table` (wrangler's `d1_migrations` by default),
 * in order. Each migration and its record are one transaction: a migration that fails leaves
 * nothing of itself behind, and stops the ones after it. Resolves to the names applied.
 *
 * @example
 * await applyD1Migrations(env.DB, await readD1Migrations("./migrations"));
 */
export async function applyD1Migrations(
  db: D1Database,
  migrations: readonly D1Migration[],
  table = DEFAULT_MIGRATIONS_TABLE,
  onApplied: (name: string) => void = () => {},
): Promise<string[]> {
  const applied = new Set(await appliedD1Migrations(db, table));
  const done: string[] = [];
  for (const { name, queries } of migrations) {
    if (applied.has(name)) continue;
    try {
      await db.batch([
        ...queries.map((query) => db.prepare(query)),
        db.prepare(`INSERT INTO ${quote(table)} (name) VALUES (?)`).bind(name),
      ]);
    } catch (error) {
      const message = errorMessage(error);
      throw new SteadError(
        "D1_MIGRATION_FAILED",
        `Migration ${name} failed, and none of it was applied: ${message}${done.length === 0 ? "" : ` (applied before it: ${done.join(", ")})`}. Fix the migration and apply again.`,
        { cause: error },
      );
    }
    done.push(name);
    onApplied(name);
  }
  return done;
}

/** wrangler's table of applied migrations, so a database migrated by either reads the same. */
async function createTable(db: D1Database, table: string): Promise<void> {
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS ${quote(table)} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`,
    )
    .run();
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
