// The SQLite authorizer behind `ctx.storage.sql`: what user SQL may do, following workerd's
// `SqliteDatabase::isAuthorized` (src/workerd/util/sqlite.c++) and the Cloudflare docs.
import { constants } from "node:sqlite";

const {
  SQLITE_OK,
  SQLITE_DENY,
  SQLITE_IGNORE,
  SQLITE_READ,
  SQLITE_UPDATE,
  SQLITE_INSERT,
  SQLITE_DELETE,
  SQLITE_SELECT,
  SQLITE_RECURSIVE,
  SQLITE_FUNCTION,
  SQLITE_PRAGMA,
  SQLITE_TRANSACTION,
  SQLITE_SAVEPOINT,
  SQLITE_ATTACH,
  SQLITE_DETACH,
  SQLITE_ALTER_TABLE,
  SQLITE_ANALYZE,
  SQLITE_REINDEX,
  SQLITE_CREATE_TABLE,
  SQLITE_DROP_TABLE,
  SQLITE_CREATE_VIEW,
  SQLITE_DROP_VIEW,
  SQLITE_CREATE_INDEX,
  SQLITE_DROP_INDEX,
  SQLITE_CREATE_TRIGGER,
  SQLITE_DROP_TRIGGER,
  SQLITE_CREATE_VTABLE,
  SQLITE_DROP_VTABLE,
  SQLITE_CREATE_TEMP_TABLE,
  SQLITE_DROP_TEMP_TABLE,
  SQLITE_CREATE_TEMP_INDEX,
  SQLITE_DROP_TEMP_INDEX,
  SQLITE_CREATE_TEMP_TRIGGER,
  SQLITE_DROP_TEMP_TRIGGER,
  SQLITE_CREATE_TEMP_VIEW,
  SQLITE_DROP_TEMP_VIEW,
} = constants;

// Cloudflare's exact error text for BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE in user SQL.
export const TRANSACTION_MESSAGE =
  "To execute a transaction, please use the state.storage.transaction() or " +
  "state.storage.transactionSync() APIs instead of the SQL BEGIN TRANSACTION or SAVEPOINT " +
  "statements. The JavaScript API is safer because it will automatically roll back on " +
  "exceptions, and because it interacts correctly with Durable Objects' automatic atomic write " +
  "coalescing.";

type AuthorizerCallback = (
  actionCode: number,
  arg1: string | null,
  arg2: string | null,
  dbName: string | null,
  triggerOrView: string | null,
) => number;

// Shared state between the runtime and the authorizer installed on one database connection.
export interface SqlAuthorizer {
  // Pass to `DatabaseSync.setAuthorizer()`; never throws.
  readonly callback: AuthorizerCallback;
  // True while user SQL is prepared *and stepped* (FTS5 and pragma table functions prepare
  // internal statements while stepping); false for the runtime's own statements.
  userMode: boolean;
  // Cloudflare-style text for the latest denial, to replace SQLite's generic "not authorized".
  lastDenial: string | undefined;
  // Set when user SQL was authorized to modify the database; the caller resets it.
  wrote: boolean;
}

// Answer of `judge`: allow, silently skip (SQLITE_IGNORE), deny with SQLite's own message, or
// deny with the given message.
const ALLOW = 0;
const SKIP = 1;
const DENY = 2;
type Verdict = typeof ALLOW | typeof SKIP | typeof DENY | string;

// Every other action that user mode allows modifies the database (DML, DDL, ANALYZE, REINDEX).
const READ_ONLY_ACTIONS: ReadonlySet<number> = new Set([
  SQLITE_SELECT,
  SQLITE_READ,
  SQLITE_FUNCTION,
  SQLITE_PRAGMA,
  SQLITE_RECURSIVE,
]);

const TEMP_ACTIONS: ReadonlySet<number> = new Set([
  SQLITE_CREATE_TEMP_TABLE,
  SQLITE_DROP_TEMP_TABLE,
  SQLITE_CREATE_TEMP_INDEX,
  SQLITE_DROP_TEMP_INDEX,
  SQLITE_CREATE_TEMP_TRIGGER,
  SQLITE_DROP_TEMP_TRIGGER,
  SQLITE_CREATE_TEMP_VIEW,
  SQLITE_DROP_TEMP_VIEW,
]);

const TEMP_MESSAGE = "not authorized to use TEMP tables, indexes, triggers or views";

const BOOLEAN_PRAGMAS: ReadonlySet<string> = new Set([
  "case_sensitive_like",
  "foreign_keys",
  "defer_foreign_keys",
  "ignore_check_constraints",
  "legacy_alter_table",
  "recursive_triggers",
  "reverse_unordered_selects",
]);
const BOOLEAN_VALUES: ReadonlySet<string> = new Set("0 1 true false yes no on off".split(" "));
const NAME_PRAGMAS: ReadonlySet<string> = new Set([
  "table_info",
  "table_xinfo",
  "foreign_key_list",
  "index_info",
  "index_list",
  "index_xinfo",
]);

// The runtime keeps its own tables (_cf_KV, alarms, ...) in the user's database under `_cf_`,
// in any letter case (workerd compares with strncasecmp). A denial carries SQLite's own text, as
// on workerd: "access to _cf_KV.key is prohibited" for a column read, "not authorized" otherwise.
function checkName(name: string | null): Verdict {
  return name !== null && /^_cf_/i.test(name) ? DENY : ALLOW;
}

// SQLite dequotes pragma arguments before calling the authorizer, so `'yes'` arrives as `yes`.
function judgePragma(pragma: string, arg: string | null): Verdict {
  const name = pragma.toLowerCase();
  const denied = `not authorized to use pragma ${arg === null ? name : `${name}(${arg})`}`;
  const argVerdict = checkName(arg);
  if (argVerdict !== ALLOW) return argVerdict;
  if (name === "table_list" || name === "optimize") return ALLOW;
  if (name === "foreign_key_check" || name === "quick_check") return ALLOW;
  if (NAME_PRAGMAS.has(name)) return arg === null ? denied : ALLOW;
  if (name === "data_version") return arg === null ? ALLOW : denied;
  if (name === "user_version") return arg === null || /^[+-]?\d+$/.test(arg) ? ALLOW : denied;
  if (BOOLEAN_PRAGMAS.has(name)) {
    return arg === null || BOOLEAN_VALUES.has(arg.toLowerCase()) ? ALLOW : denied;
  }
  return denied;
}

// The user-mode rules. arg1/arg2 meanings depend on the action (see sqlite3_set_authorizer).
function judge(
  action: number,
  arg1: string | null,
  arg2: string | null,
  dbName: string | null,
): Verdict {
  // ALTER TABLE passes the database as arg1 and DROP COLUMN's column in the dbName slot.
  const db = action === SQLITE_ALTER_TABLE ? arg1 : dbName;
  if (db !== null && db !== "main") {
    // ALTER TABLE ... RENAME reads and rewrites sqlite_temp_master; nothing else may touch temp.
    if (db !== "temp") return `not authorized to use database ${db}`;
    if (action !== SQLITE_READ && action !== SQLITE_UPDATE) return TEMP_MESSAGE;
    return checkName(arg1);
  }
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
      return ALLOW;
    case SQLITE_FUNCTION:
      // No allow-list: node:sqlite registers no unsafe functions (load_extension is off unless
      // the database is opened with allowExtension), and an allow-list would break SQL written
      // for newer SQLite built-ins (json*, math, window, FTS5 auxiliaries, ALTER helpers).
      return ALLOW;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
      return TRANSACTION_MESSAGE;
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
      return "not authorized to use ATTACH or DETACH";
    case SQLITE_PRAGMA:
      return judgePragma(arg1 ?? "", arg2);
    case SQLITE_READ:
    case SQLITE_UPDATE:
      // An empty column means the table is scanned without reading columns (count(*)).
      return checkName(arg2 ? `${arg1}.${arg2}` : arg1);
    case SQLITE_INSERT:
    case SQLITE_DELETE:
    case SQLITE_CREATE_TABLE:
    case SQLITE_DROP_TABLE:
    case SQLITE_CREATE_VIEW:
    case SQLITE_DROP_VIEW:
      return checkName(arg1);
    case SQLITE_ANALYZE:
    case SQLITE_REINDEX:
      // Bare ANALYZE / REINDEX and PRAGMA optimize visit every table; skip ours rather than fail.
      return checkName(arg1) === ALLOW ? ALLOW : SKIP;
    case SQLITE_ALTER_TABLE:
      return checkName(arg2);
    case SQLITE_CREATE_INDEX:
    case SQLITE_DROP_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_DROP_TRIGGER:
      return checkName(arg1) === ALLOW ? checkName(arg2) : checkName(arg1);
    case SQLITE_CREATE_VTABLE:
    case SQLITE_DROP_VTABLE:
      if (arg2 !== "fts5" && arg2 !== "fts5vocab") {
        return `not authorized to use virtual table module ${arg2}`;
      }
      return checkName(arg1);
    default:
      return TEMP_ACTIONS.has(action) ? TEMP_MESSAGE : "not authorized";
  }
}

// Statements that modify the file without an INSERT/UPDATE/DELETE/DDL action of their own.
function isWritingPragma(action: number, arg1: string | null, arg2: string | null): boolean {
  if (action !== SQLITE_PRAGMA || arg1 === null) return false;
  const name = arg1.toLowerCase();
  return name === "optimize" || (name === "user_version" && arg2 !== null);
}

// Creates the authorizer for one connection, starting in runtime (unrestricted) mode.
export function createSqlAuthorizer(): SqlAuthorizer {
  const auth: SqlAuthorizer = {
    userMode: false,
    lastDenial: undefined,
    wrote: false,
    callback: (action, arg1, arg2, dbName) => {
      if (!auth.userMode) return SQLITE_OK;
      const verdict = judge(action, arg1, arg2, dbName);
      if (verdict === SKIP) return SQLITE_IGNORE;
      if (verdict === DENY) {
        auth.lastDenial = undefined;
        return SQLITE_DENY;
      }
      if (verdict !== ALLOW) {
        auth.lastDenial = verdict;
        return SQLITE_DENY;
      }
      if (!READ_ONLY_ACTIONS.has(action) || isWritingPragma(action, arg1, arg2)) auth.wrote = true;
      return SQLITE_OK;
    },
  };
  return auth;
}
