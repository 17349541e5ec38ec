import { errorMessage } from "../core/error-text.ts";
import { SteadError } from "../core/errors.ts";
import type { DurableObjectId } from "../core/ids/object-id.ts";
import type { ObjectRoute } from "../core/object/namespace.ts";
import type {
  AdminQueryResult,
  AdminRequest,
  AdminValue,
  KvPage,
  ObjectInspection,
  ObjectSnapshot,
} from "../core/object/object-admin.ts";
import type { ImportSummary } from "../core/object/object-import.ts";
import type { ObjectRecord } from "../core/object/object-record.ts";
import type { DeadLetterRecord, NamespaceRecord } from "../core/storage/driver.ts";
import type { FeedSinkStatus } from "../feed/feed-status.ts";
import { recordProblem } from "./export-format.ts";
import type { RuntimeAdmin } from "./runtime-admin.ts";

/** One namespace as the admin API lists it. */
export interface NamespaceSummary {
  className: string;
  storageName: string;
  backend: "sqlite" | "kv";
  objects: number;
}

/** One object as `list` gives it. */
export interface ObjectSummary {
  id: string;
  name: string | null;
}

/** A page of `list`: `cursor` reads the next one, null on the last. */
export interface ObjectPage {
  objects: ObjectSummary[];
  /** Objects matching, over every page. */
  total: number;
  cursor: string | null;
}

/** What a restore needs beside the objects' databases. */
export interface BackupControl {
  /** Where the objects are stored. */
  storage: RuntimeAdmin["storage"];
  /** Every namespace, with the secret key its ids are made with: without it, restored ids are refused. */
  namespaces: NamespaceRecord[];
  /** Migration tags applied, in order. */
  migrations: string[];
  /** Alarms that failed every retry. */
  deadLetters: DeadLetterRecord[];
}

/** How `importObject` addresses the object and treats what it holds. */
export interface ImportOptions {
  /** The object's name or id; default: the record's name, else its id. */
  object?: string;
  /** Replace what the object holds (otherwise an object holding data is refused). */
  replace?: boolean;
}

/** What `importObject` did: the object's id here, and what it put in it. */
export interface ImportResult extends ImportSummary {
  id: string;
}

export interface ListOptions {
  /** Only objects whose name starts with this. */
  prefix?: string;
  /** The `cursor` of the previous page. */
  cursor?: string;
  /** At most this many (default 100, at most 1,000). */
  limit?: number;
}

/** What the admin API does, whether it is reached over HTTP or used in-process by the CLI. */
/** What `GET /api/v1/feed` answers: `FeedStatus` without its histograms. */
export interface FeedStatusView {
  sinks: Array<Omit<FeedSinkStatus, "commitToApplied">>;
}

export interface AdminOperations {
  namespaces(): Promise<NamespaceSummary[]>;
  list(className: string, options?: ListOptions): Promise<ObjectPage>;
  inspect(className: string, object: string): Promise<ObjectInspection>;
  /** A page of the object's KV entries, with a preview of each value. */
  kv(
    className: string,
    object: string,
    options?: { after?: string; limit?: number },
  ): Promise<KvPage>;
  sql(
    className: string,
    object: string,
    query: string,
    options?: { params?: AdminValue[]; write?: boolean },
  ): Promise<AdminQueryResult>;
  delete(className: string, object: string): Promise<void>;
  deadLetters(): Promise<DeadLetterRecord[]>;
  /**
   * The change feed's state per sink: lag, what waits, failing objects with the change that
   * failed. Absent, or undefined: the server runs no feed.
   */
  feed?(): Promise<FeedStatusView | undefined>;
  /** Sets the object's alarm to now and removes its dead letters; resolves to how many. */
  retryDeadLetters(className: string, object: string): Promise<number>;
  /** Removes the object's dead letters for good; resolves to how many. */
  discardDeadLetters(className: string, object: string): Promise<number>;
  /**
   * A copy of one object's whole database at a commit boundary (export, backup): read from the
   * storage when the driver can (PostgreSQL), else taken in an event of the object.
   */
  snapshot(className: string, object: string): Promise<ObjectSnapshot>;
  /**
   * Puts an export's record into one object, creating it if needed, in one transaction inside
   * it: a failure changes nothing. An object holding data (KV keys, rows, an alarm) is refused
   * with `ADMIN_CONFLICT` unless `replace`.
   */
  importObject(
    className: string,
    record: ObjectRecord,
    options?: ImportOptions,
  ): Promise<ImportResult>;
  /** Namespaces with their id keys, applied migrations and dead letters, for a backup. */
  backupControl(): Promise<BackupControl>;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** The admin operations on a runtime in this process. */
export class AdminApi implements AdminOperations {
  readonly #runtime: RuntimeAdmin;

  constructor(runtime: RuntimeAdmin) {
    this.#runtime = runtime;
  }

  async namespaces(): Promise<NamespaceSummary[]> {
    return Promise.all(
      this.#runtime.namespaces().map(async ({ className, storageName, backend }) => ({
        className,
        storageName,
        backend,
        objects: (await this.#runtime.listObjects(storageName)).length,
      })),
    );
  }

  async list(className: string, options: ListOptions = {}): Promise<ObjectPage> {
    const record = this.#record(className);
    const limit = checkLimit(options.limit);
    let ids = (await this.#runtime.listObjects(record.storageName)).sort();
    const { prefix } = options;
    let names: Map<string, string> | undefined;
    if (prefix !== undefined && prefix !== "") {
      names = await this.#names(record, ids, true);
      ids = ids.filter((id) => names!.get(id)?.startsWith(prefix) === true);
    }
    const after = options.cursor;
    const start = after === undefined ? 0 : ids.findIndex((id) => id > after);
    const page = start < 0 ? [] : ids.slice(start, start + limit);
    names ??= await this.#names(record, page, false);
    const last = page.at(-1);
    return {
      objects: page.map((id) => ({ id, name: names!.get(id) ?? null })),
      total: ids.length,
      cursor: last !== undefined && ids.at(-1) !== last ? last : null,
    };
  }

  async inspect(className: string, object: string): Promise<ObjectInspection> {
    return (await this.#send(className, object, { op: "inspect" })) as ObjectInspection;
  }

  async kv(
    className: string,
    object: string,
    options: { after?: string; limit?: number } = {},
  ): Promise<KvPage> {
    const limit = checkLimit(options.limit);
    const request: AdminRequest = {
      op: "kv",
      limit,
      ...(options.after === undefined ? {} : { after: options.after }),
    };
    return (await this.#send(className, object, request)) as KvPage;
  }

  async sql(
    className: string,
    object: string,
    query: string,
    options: { params?: AdminValue[]; write?: boolean } = {},
  ): Promise<AdminQueryResult> {
    if (typeof query !== "string" || query.trim() === "") {
      throw badRequest("The query is missing: give the SQL to run.");
    }
    const params = options.params ?? [];
    if (!Array.isArray(params) || !params.every(isAdminValue)) {
      throw badRequest(
        'params must be a list of strings, numbers, nulls and { "base64": "..." } BLOBs.',
      );
    }
    const request: AdminRequest = { op: "sql", query, params, write: options.write === true };
    try {
      return (await this.#send(className, object, request)) as AdminQueryResult;
    } catch (error) {
      if (error instanceof SteadError) throw error;
      // SQLite's own message: the query, not the server, is at fault, and nothing changed.
      throw badRequest(errorMessage(error), error);
    }
  }

  async delete(className: string, object: string): Promise<void> {
    await this.#send(className, object, { op: "delete" });
  }

  deadLetters(): Promise<DeadLetterRecord[]> {
    return this.#runtime.deadLetters();
  }

  async feed(): Promise<FeedStatusView | undefined> {
    const status = this.#runtime.feed?.status();
    if (status === undefined) return undefined;
    return { sinks: status.sinks.map(({ commitToApplied: _, ...sink }) => sink) };
  }

  async retryDeadLetters(className: string, object: string): Promise<number> {
    const { record, id, count } = await this.#letters(className, object);
    try {
      await this.#send(className, object, { op: "setAlarm", time: this.#runtime.now() });
    } catch (error) {
      if (error instanceof SteadError) throw error;
      // The class has no alarm() handler any more, for one: Cloudflare's own text.
      throw badRequest(errorMessage(error), error);
    }
    await this.#runtime.discardDeadLetters(record.storageName, id);
    return count;
  }

  async discardDeadLetters(className: string, object: string): Promise<number> {
    const { record, id, count } = await this.#letters(className, object);
    await this.#runtime.discardDeadLetters(record.storageName, id);
    return count;
  }

  async snapshot(className: string, object: string): Promise<ObjectSnapshot> {
    const record = this.#record(className);
    const { snapshot } = this.#runtime;
    if (snapshot === undefined) {
      return (await this.#send(className, object, { op: "snapshot" })) as ObjectSnapshot;
    }
    const route = this.#runtime.route(record.storageName);
    const id =
      route === undefined && /^[0-9a-f]{64}$/.test(object)
        ? object
        : idOf(this.#hosted(record), object).toString();
    const database = await snapshot(record.storageName, id);
    if (database === undefined) throw this.#missing(record, object, id);
    return { id, database };
  }

  async importObject(
    className: string,
    objectRecord: ObjectRecord,
    options: ImportOptions = {},
  ): Promise<ImportResult> {
    const problem = recordProblem(objectRecord);
    if (problem !== undefined) throw new SteadError("EXPORT_INVALID", `${problem}.`);
    const record = this.#record(className);
    const route = this.#hosted(record);
    let id: DurableObjectId;
    if (options.object === undefined && objectRecord.name === null) {
      if (!route.ids.owns(objectRecord.id)) {
        throw new SteadError(
          "EXPORT_INVALID",
          `The object ${objectRecord.id} was made without a name (newUniqueId), and its id belongs to the namespace it was exported from: ids are made with each namespace's own key, so it cannot be made here. Restore a backup instead (stead backup keeps the keys), or import it under a name.`,
        );
      }
      id = route.ids.fromString(objectRecord.id);
    } else {
      id = idOf(route, options.object ?? objectRecord.name ?? objectRecord.id);
    }
    const request: AdminRequest = {
      op: "import",
      record: objectRecord,
      replace: options.replace === true,
    };
    try {
      const summary = (await route.send(id, { kind: "admin", request })) as ImportSummary;
      return { id: id.toString(), ...summary };
    } catch (error) {
      if (error instanceof SteadError) throw error;
      // SQLite's own message (a row that breaks a constraint): nothing of the object changed.
      throw badRequest(error instanceof Error ? error.message : String(error), error);
    }
  }

  async backupControl(): Promise<BackupControl> {
    return {
      storage: this.#runtime.storage,
      namespaces: this.#runtime.namespaces().map((record) => ({ ...record })),
      migrations: this.#runtime.appliedMigrations(),
      deadLetters: await this.#runtime.deadLetters(),
    };
  }

  /** The object's namespace and id, when it has dead letters. */
  async #letters(
    className: string,
    object: string,
  ): Promise<{ record: NamespaceRecord; id: string; count: number }> {
    const record = this.#record(className);
    const letters = (await this.#runtime.deadLetters()).filter(
      (letter) => letter.namespace === record.storageName,
    );
    const letter = letters.find(
      (candidate) => candidate.id === object || candidate.name === object,
    );
    if (letter === undefined) {
      throw new SteadError(
        "ADMIN_NOT_FOUND",
        `${record.className} ${object} has no dead-lettered alarm. stead objects dead-letters lists them.`,
      );
    }
    const count = letters.filter((candidate) => candidate.id === letter.id).length;
    return { record, id: letter.id, count };
  }

  /** Sends `request` to an object that exists: an operator's look never creates one. */
  async #send(className: string, object: string, request: AdminRequest): Promise<unknown> {
    const record = this.#record(className);
    const route = this.#hosted(record);
    const id = idOf(route, object);
    if (!(await this.#runtime.hasObject(record.storageName, id.toString()))) {
      throw this.#missing(record, object, id.toString());
    }
    return route.send(id, { kind: "admin", request });
  }

  #hosted(record: NamespaceRecord): ObjectRoute {
    const route = this.#runtime.route(record.storageName);
    if (route === undefined) {
      throw new SteadError(
        "ADMIN_NOT_FOUND",
        `Class ${record.className} is recorded but not hosted (the app no longer exports it), so its objects cannot be reached. Export the class again, or use stead objects on the data directory with the server stopped.`,
      );
    }
    return route;
  }

  #missing(record: NamespaceRecord, object: string, id: string): SteadError {
    return new SteadError(
      "ADMIN_NOT_FOUND",
      `${record.className} has no object ${object}${id === object ? "" : ` (id ${id})`}. stead objects list ${record.className} lists them.`,
    );
  }

  #record(className: string): NamespaceRecord {
    const records = this.#runtime.namespaces();
    const record = records.find(
      (candidate) => candidate.className === className || candidate.storageName === className,
    );
    if (record !== undefined) return record;
    throw new SteadError(
      "ADMIN_NOT_FOUND",
      `No Durable Object class ${className} is recorded here. Classes: ${records.map((r) => r.className).join(", ") || "(none)"}.`,
    );
  }

  async #names(
    record: NamespaceRecord,
    ids: readonly string[],
    required: boolean,
  ): Promise<Map<string, string>> {
    const names = await this.#runtime.objectNames?.(record.storageName, ids);
    if (names === undefined && required) {
      throw badRequest(
        "This storage does not list objects by name, so --prefix cannot filter them; list them by id.",
      );
    }
    return names ?? new Map();
  }
}

/** The object a name or id means: a valid id of the namespace is that id, anything else a name. */
function idOf(route: ObjectRoute, object: string): DurableObjectId {
  if (typeof object !== "string" || object === "")
    throw badRequest("The object's name or id is missing.");
  return route.ids.owns(object) ? route.ids.fromString(object) : route.ids.fromName(object);
}

function checkLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badRequest(`limit must be a whole number from 1 to ${MAX_LIMIT}, got ${limit}.`);
  }
  return limit;
}

function isAdminValue(value: unknown): value is AdminValue {
  if (value === null || typeof value === "string" || typeof value === "number") return true;
  return (
    typeof value === "object" &&
    typeof (value as { base64?: unknown }).base64 === "string" &&
    Object.keys(value).length === 1
  );
}

function badRequest(message: string, cause?: unknown): SteadError {
  return new SteadError("ADMIN_BAD_REQUEST", message, cause === undefined ? {} : { cause });
}
