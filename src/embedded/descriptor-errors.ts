import { closeSync, openSync } from "node:fs";
import { SteadError } from "../core/errors.ts";
import type { DatabaseHandle, StorageDriver } from "../core/storage/driver.ts";

/** SQLite's primary result code for a file it could not open. */
const SQLITE_CANTOPEN = 14;

/**
 * `driver`, with failures to open an object's files for want of file descriptors turned into a
 * `DESCRIPTORS_EXHAUSTED` error that says so and names the fix. SQLite reports such a failure
 * only as "unable to open database file" (its errno is not exposed), so when it does, one
 * descriptor is opened and closed at once to learn whether the process is out of them.
 */
export function withDescriptorErrors(driver: StorageDriver): StorageDriver {
  return {
    openObject(namespace, id, onClose) {
      const handle = explained(() => driver.openObject(namespace, id, onClose), namespace, id);
      return new CheckedHandle(handle, namespace, id);
    },
    listObjects: (namespace) => driver.listObjects(namespace),
    deleteNamespace: (namespace) => driver.deleteNamespace(namespace),
    get alarms() {
      return driver.alarms;
    },
    get control() {
      return driver.control;
    },
    close: () => driver.close(),
  };
}

/** A handle whose connection opens lazily, so its open failures surface on `sqlite`. */
class CheckedHandle implements DatabaseHandle {
  readonly #inner: DatabaseHandle;
  readonly #namespace: string;
  readonly #id: string;

  constructor(inner: DatabaseHandle, namespace: string, id: string) {
    this.#inner = inner;
    this.#namespace = namespace;
    this.#id = id;
  }

  get sqlite() {
    try {
      return this.#inner.sqlite;
    } catch (error) {
      throw explain(error, this.#namespace, this.#id);
    }
  }

  hold() {
    return this.#inner.hold();
  }

  flush() {
    return this.#inner.flush().catch((error: unknown) => {
      throw explain(error, this.#namespace, this.#id);
    });
  }

  close() {
    this.#inner.close();
  }

  reopen() {
    explained(() => this.#inner.reopen(), this.#namespace, this.#id);
  }
}

function explained<T>(fn: () => T, namespace: string, id: string): T {
  try {
    return fn();
  } catch (error) {
    throw explain(error, namespace, id);
  }
}

/** `error`, or the error naming descriptor exhaustion when that is what caused it. */
function explain(error: unknown, namespace: string, id: string): unknown {
  const code = descriptorErrorCode(error);
  if (code === undefined) return error;
  const which = code === "ENFILE" ? "the system has" : "this process has";
  return new SteadError(
    "DESCRIPTORS_EXHAUSTED",
    `Cannot open the database of object ${namespace}/${id}: ${which} run out of file descriptors (${code}). Raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit), or lower --max-connections / STEAD_MAX_CONNECTIONS or --max-open-databases / STEAD_MAX_OPEN_DATABASES.`,
    { cause: error, retryable: true, remote: true },
  );
}

/** EMFILE or ENFILE if `error` came from running out of descriptors, else undefined. */
function descriptorErrorCode(error: unknown): "EMFILE" | "ENFILE" | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errcode } = error as { code?: unknown; errcode?: unknown };
  if (code === "EMFILE" || code === "ENFILE") return code;
  // SQLite's extended codes keep the primary one in their low byte.
  if (typeof errcode !== "number" || (errcode & 0xff) !== SQLITE_CANTOPEN) return undefined;
  try {
    closeSync(openSync("/dev/null", "r"));
    return undefined;
  } catch (probe) {
    const probeCode = (probe as NodeJS.ErrnoException).code;
    return probeCode === "EMFILE" || probeCode === "ENFILE" ? probeCode : undefined;
  }
}
