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
} from "../core/object/object-admin.ts";
import type { DeadLetterRecord, NamespaceRecord } from "../core/storage/driver.ts";
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

export interface ListOptions {
  /** Only objects whose name starts with this. */
  prefix?: string;
  /** The `cursor` of the previous page. */
  cursor?: string;
  /** At most this many (default 100, at most 1,000). */
  limit?: number;
}

/** What the admin API does, whether it is reached over HTTP or used in-process by the CLI. */
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
  /** Sets the object's alarm to now and removes its dead letters; resolves to how many. */
  retryDeadLetters(className: string, object: string): Promise<number>;
  /** Removes the object's dead letters for good; resolves to how many. */
  discardDeadLetters(className: string, object: string): Promise<number>;
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
    const route = this.#runtime.route(record.storageName);
    if (route === undefined) {
      throw new SteadError(
        "ADMIN_NOT_FOUND",
        `Class ${record.className} is recorded but not hosted (the app no longer exports it), so its objects cannot be reached. Export the class again, or use stead objects on the data directory with the server stopped.`,
      );
    }
    const id = idOf(route, object);
    const stored = await this.#runtime.listObjects(record.storageName);
    if (!stored.includes(id.toString())) {
      throw new SteadError(
        "ADMIN_NOT_FOUND",
        `${record.className} has no object ${object}${id.toString() === object ? "" : ` (id ${id.toString()})`}. stead objects list ${record.className} lists them.`,
      );
    }
    return route.send(id, { kind: "admin", request });
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
