/** One `d1_databases` entry, as the wrangler config and `createRuntime()` take it. */
export interface D1DatabaseOptions {
  binding: string;
  database_name?: string;
  database_id?: string;
  /** The folder of wrangler's numbered `.sql` migrations (default: `migrations`, beside the config). */
  migrations_dir?: string;
  /** The table recording applied migrations (default: `d1_migrations`). */
  migrations_table?: string;
}

/** The default `migrations_dir`, as wrangler's. */
export const DEFAULT_MIGRATIONS_DIR = "migrations";
/** The default `migrations_table`, as wrangler's. */
export const DEFAULT_MIGRATIONS_TABLE = "d1_migrations";

/**
 * The name of the database's object: bindings with the same `database_id` (else
 * `database_name`, else binding name) share one database, as they do on Cloudflare.
 */
export function databaseKey(options: D1DatabaseOptions): string {
  return options.database_id ?? options.database_name ?? options.binding;
}
