export { D1Database, type D1ExecResult } from "./d1-database.ts";
export {
  appliedD1Migrations,
  applyD1Migrations,
  type D1Migration,
  readD1Migrations,
} from "./d1-migrations.ts";
export {
  D1_CLASS_NAME,
  D1DatabaseObject,
} from "./d1-object.ts";
export {
  type D1DatabaseOptions,
  DEFAULT_MIGRATIONS_DIR,
  DEFAULT_MIGRATIONS_TABLE,
  databaseKey,
} from "./d1-options.ts";
export type { D1Backend, D1Meta, D1Value } from "./d1-protocol.ts";
export { D1DatabaseSession } from "./d1-session.ts";
export { D1PreparedStatement, type D1RawOptions, type D1Result } from "./d1-statement.ts";
