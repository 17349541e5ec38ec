/**
 * Stead's own errors. Errors whose text Cloudflare defines (storage argument checks, id parsing)
 * are thrown as the standard `TypeError`/`RangeError` with Cloudflare's exact message instead,
 * because apps match on them.
 */

/** Every stable error code. Each is listed in docs/errors.md (enforced by a test). */
export type SteadErrorCode =
  /** The object has too many queued events, or its oldest queued event waited too long. */
  | "OBJECT_OVERLOADED"
  /** The object was reset (abort, failed write, blockConcurrencyWhile throw or timeout, code update). */
  | "OBJECT_RESET"
  /** A storage write could not be made durable; the object was reset. */
  | "STORAGE_FLUSH_FAILED"
  /** An instance that was already replaced touched storage. */
  | "STALE_INSTANCE"
  /** The stub was broken by an earlier infrastructure error; make a new stub. */
  | "STUB_BROKEN"
  /** The stub was used after being disposed. */
  | "STUB_DISPOSED"
  /** The object's class has no handler for the delivered event (fetch, alarm). */
  | "HANDLER_MISSING"
  /** The runtime options are invalid. */
  | "INVALID_CONFIG"
  /** No wrangler.jsonc, wrangler.json or wrangler.toml in the app's directory. */
  | "CONFIG_NOT_FOUND"
  /** The configuration uses a Cloudflare feature Stead does not support yet. */
  | "CONFIG_UNSUPPORTED"
  /** The migrations cannot be applied to what the data directory records. */
  | "MIGRATION_INVALID"
  /** A `deleted_classes` migration would delete data and was not confirmed. */
  | "DELETE_NOT_CONFIRMED"
  /** The entry module could not be loaded or does not export what the config names. */
  | "MODULE_LOAD_FAILED"
  /** The app could not be bundled (a syntax error, an import that does not resolve), or its `build.command` failed. */
  | "BUILD_FAILED"
  /** The runtime was disposed. */
  | "RUNTIME_DISPOSED"
  /** An event kept its object thread busy past `limits.cpu_ms`; the thread's objects were reset. */
  | "CPU_LIMIT_EXCEEDED"
  /** An object thread is stuck where nothing can interrupt it; its objects wait for a restart. */
  | "OBJECT_THREAD_STUCK"
  /** An RPC value held a Request, Response or stream bound for an object on another thread. */
  | "CROSS_THREAD_UNSUPPORTED"
  /** An RPC value or an event bound for an object on another cluster node cannot cross nodes yet. */
  | "CROSS_NODE_UNSUPPORTED"
  /** An object's files could not be opened: the process or system ran out of file descriptors. */
  | "DESCRIPTORS_EXHAUSTED"
  /** Another process (or another runtime in this one) holds the data directory. */
  | "DATA_DIR_LOCKED"
  /** The data directory or a file in it cannot be written: read-only, permissions, owner. */
  | "DATA_DIR_UNWRITABLE"
  /** The control database is not a readable SQLite database. */
  | "CONTROL_DATABASE_CORRUPT"
  /** One object's database is not a readable SQLite database; other objects are unaffected. */
  | "OBJECT_DATABASE_CORRUPT"
  /** A database file could not be opened for another reason (I/O error, full disk). */
  | "DATABASE_OPEN_FAILED"
  /** Another process took the object (a higher epoch): this one's commit was refused, the object reset. */
  | "OBJECT_FENCED"
  /** The storage backend (PostgreSQL) could not be reached or did not answer. */
  | "STORAGE_UNAVAILABLE"
  /** The queues' store (NATS JetStream, `--queues`) could not be reached or set up. */
  | "QUEUE_UNAVAILABLE"
  /** Another cluster node holds the object, and the call could not be forwarded to it. */
  | "OBJECT_ELSEWHERE"
  /** This cluster node could not renew its lease in time, so it serves no object until it can. */
  | "NODE_NOT_SERVING"
  /** A call between cluster nodes was refused: a wrong or missing cluster secret. */
  | "CLUSTER_UNAUTHORIZED"
  /** The app used a `cloudflare:*` API whose service Stead does not provide (AI, email, ...). */
  | "API_UNSUPPORTED"
  /** The app imported a `cloudflare:*` module that does not exist. */
  | "UNKNOWN_MODULE"
  /** A point-in-time-recovery bookmark is malformed, of another object, or names no state. */
  | "BOOKMARK_INVALID"
  /** A bookmark or time is older than the history kept (the retention window). */
  | "BOOKMARK_EXPIRED"
  /** The storage driver keeps no history (history off, or a driver without it). */
  | "POINT_IN_TIME_UNAVAILABLE"
  /** A Durable Object binding was used while the app's modules were still loading. */
  | "BINDING_NOT_READY"
  /** A D1 migration failed; it and the ones after it were not applied. */
  | "D1_MIGRATION_FAILED"
  /** An admin API request without a valid bearer token. */
  | "ADMIN_UNAUTHORIZED"
  /** A read-only admin token was used for a request that writes. */
  | "ADMIN_FORBIDDEN"
  /** The admin API has no such class, object or path. */
  | "ADMIN_NOT_FOUND"
  /** An admin API request that is malformed, or a query that failed (nothing changed). */
  | "ADMIN_BAD_REQUEST"
  /** An import into an object that already holds data, without replacing it (nothing changed). */
  | "ADMIN_CONFLICT"
  /** An export file that is not in Stead's export format, or is damaged (nothing imported from it). */
  | "EXPORT_INVALID"
  /** A backup that is incomplete or damaged: a file missing, changed or unreadable. */
  | "BACKUP_INVALID"
  /** A backup into a directory that is not empty, or a restore into storage that holds data (without --force). */
  | "TARGET_NOT_EMPTY";

/** HTTP status a code maps to when it reaches an HTTP client. */
export const HTTP_STATUS: Readonly<Record<SteadErrorCode, number>> = {
  OBJECT_OVERLOADED: 503,
  OBJECT_RESET: 503,
  STORAGE_FLUSH_FAILED: 503,
  STALE_INSTANCE: 503,
  STUB_BROKEN: 503,
  STUB_DISPOSED: 500,
  HANDLER_MISSING: 500,
  INVALID_CONFIG: 500,
  CONFIG_NOT_FOUND: 500,
  CONFIG_UNSUPPORTED: 500,
  MIGRATION_INVALID: 500,
  DELETE_NOT_CONFIRMED: 500,
  MODULE_LOAD_FAILED: 500,
  BUILD_FAILED: 500,
  RUNTIME_DISPOSED: 503,
  CPU_LIMIT_EXCEEDED: 503,
  OBJECT_THREAD_STUCK: 503,
  CROSS_THREAD_UNSUPPORTED: 500,
  CROSS_NODE_UNSUPPORTED: 500,
  DESCRIPTORS_EXHAUSTED: 503,
  DATA_DIR_LOCKED: 500,
  DATA_DIR_UNWRITABLE: 500,
  CONTROL_DATABASE_CORRUPT: 500,
  OBJECT_DATABASE_CORRUPT: 500,
  DATABASE_OPEN_FAILED: 500,
  OBJECT_FENCED: 503,
  STORAGE_UNAVAILABLE: 503,
  QUEUE_UNAVAILABLE: 503,
  OBJECT_ELSEWHERE: 503,
  NODE_NOT_SERVING: 503,
  CLUSTER_UNAUTHORIZED: 401,
  API_UNSUPPORTED: 500,
  UNKNOWN_MODULE: 500,
  BOOKMARK_INVALID: 400,
  BOOKMARK_EXPIRED: 400,
  POINT_IN_TIME_UNAVAILABLE: 500,
  BINDING_NOT_READY: 500,
  D1_MIGRATION_FAILED: 500,
  ADMIN_UNAUTHORIZED: 401,
  ADMIN_FORBIDDEN: 403,
  ADMIN_NOT_FOUND: 404,
  ADMIN_BAD_REQUEST: 400,
  ADMIN_CONFLICT: 409,
  EXPORT_INVALID: 400,
  BACKUP_INVALID: 500,
  TARGET_NOT_EMPTY: 500,
};

export interface SteadErrorOptions {
  cause?: unknown;
  /** Safe to retry with a fresh stub if the operation is idempotent. */
  retryable?: boolean;
  /** Do not retry: the object is overloaded. */
  overloaded?: boolean;
  /** Attributed to the object rather than to the caller. */
  remote?: boolean;
}

/** Base class of every error Stead itself raises. */
export class SteadError extends Error {
  readonly code: SteadErrorCode;
  retryable: boolean;
  overloaded: boolean;
  remote: boolean;

  constructor(code: SteadErrorCode, message: string, options: SteadErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SteadError";
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.overloaded = options.overloaded ?? false;
    this.remote = options.remote ?? false;
  }
}

/** Makes the error an object reset raises for its held outputs and in-flight events. */
export function resetError(reason: string, cause?: unknown): SteadError {
  return new SteadError("OBJECT_RESET", reason, { cause, retryable: true, remote: true });
}

/** Makes the fast error an overloaded object gives instead of queueing. */
export function overloadedError(detail: string): SteadError {
  return new SteadError("OBJECT_OVERLOADED", `Durable Object is overloaded. ${detail}`, {
    overloaded: true,
    remote: true,
  });
}
