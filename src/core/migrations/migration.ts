/**
 * One entry of a Worker's `migrations` list, as written in `wrangler.jsonc` / `wrangler.toml`.
 * Migrations are applied once per data directory, in list order, and recorded by tag.
 *
 * @example
 * const migrations: Migration[] = [
 *   { tag: "v1", new_sqlite_classes: ["ChatRoom"] },
 *   { tag: "v2", renamed_classes: [{ from: "ChatRoom", to: "Room" }] },
 * ];
 */
export interface Migration {
  /** Unique name of the migration; recorded once applied. */
  tag: string;
  /** Classes created SQLite-backed (the SQL API is available). */
  new_sqlite_classes?: string[];
  /** Classes created legacy KV-backed: the KV API only, no `ctx.storage.sql`. */
  new_classes?: string[];
  /** Classes renamed: the new name keeps the old namespace's ids and data. */
  renamed_classes?: { from: string; to: string }[];
  /** Classes deleted with all their objects' data (needs confirmation, see `confirmDeletions`). */
  deleted_classes?: string[];
  /** Classes moved from another Worker: not supported by Stead. */
  transferred_classes?: { from: string; from_script?: string; to: string }[];
}

/** A Durable Object binding as the migrations see it: which class it names, and its default backend. */
export interface ClassBinding {
  binding: string;
  className: string;
  /** The backend a class first seen through this binding gets (recorded backends win). */
  backend: "sqlite" | "kv";
}
