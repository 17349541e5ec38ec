import { SteadError, type SteadErrorCode } from "../core/errors.ts";
import type {
  AdminQueryResult,
  AdminValue,
  KvPage,
  ObjectInspection,
  ObjectSnapshot,
} from "../core/object/object-admin.ts";
import type { ObjectRecord } from "../core/object/object-record.ts";
import type { DeadLetterRecord } from "../core/storage/driver.ts";
import type {
  AdminOperations,
  BackupControl,
  ImportOptions,
  ImportResult,
  ListOptions,
  NamespaceSummary,
  ObjectPage,
} from "./admin-api.ts";

/** The admin operations of a running server, over its admin API. */
export class AdminClient implements AdminOperations {
  readonly #url: string;
  readonly #token: string;

  /** `url`: the admin listener (`http://127.0.0.1:8788`); `token`: a bearer token it accepts. */
  constructor(url: string, token: string) {
    this.#url = url.replace(/\/+$/, "");
    this.#token = token;
  }

  namespaces(): Promise<NamespaceSummary[]> {
    return this.#call("GET", "/api/v1/namespaces") as Promise<NamespaceSummary[]>;
  }

  list(className: string, options: ListOptions = {}): Promise<ObjectPage> {
    const query = new URLSearchParams();
    if (options.prefix !== undefined) query.set("prefix", options.prefix);
    if (options.cursor !== undefined) query.set("cursor", options.cursor);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const search = query.size === 0 ? "" : `?${query}`;
    return this.#call("GET", `${objectsPath(className)}${search}`) as Promise<ObjectPage>;
  }

  inspect(className: string, object: string): Promise<ObjectInspection> {
    return this.#call("GET", objectPath(className, object)) as Promise<ObjectInspection>;
  }

  kv(
    className: string,
    object: string,
    options: { after?: string; limit?: number } = {},
  ): Promise<KvPage> {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set("after", options.after);
    if (options.limit !== undefined) query.set("limit", String(options.limit));
    const search = query.size === 0 ? "" : `?${query}`;
    return this.#call("GET", `${objectPath(className, object)}/kv${search}`) as Promise<KvPage>;
  }

  sql(
    className: string,
    object: string,
    query: string,
    options: { params?: AdminValue[]; write?: boolean } = {},
  ): Promise<AdminQueryResult> {
    return this.#call("POST", `${objectPath(className, object)}/sql`, {
      query,
      params: options.params ?? [],
      write: options.write === true,
    }) as Promise<AdminQueryResult>;
  }

  async delete(className: string, object: string): Promise<void> {
    await this.#call("DELETE", objectPath(className, object));
  }

  deadLetters(): Promise<DeadLetterRecord[]> {
    return this.#call("GET", "/api/v1/dead-letters") as Promise<DeadLetterRecord[]>;
  }

  async retryDeadLetters(className: string, object: string): Promise<number> {
    const answer = (await this.#call(
      "POST",
      `${objectPath(className, object)}/dead-letters/retry`,
    )) as { retried: number };
    return answer.retried;
  }

  async discardDeadLetters(className: string, object: string): Promise<number> {
    const answer = (await this.#call(
      "POST",
      `${objectPath(className, object)}/dead-letters/discard`,
    )) as { discarded: number };
    return answer.discarded;
  }

  async snapshot(className: string, object: string): Promise<ObjectSnapshot> {
    const response = await this.#request("GET", `${objectPath(className, object)}/database`);
    if (!response.ok) await this.#fail(response);
    const database = new Uint8Array(await response.arrayBuffer());
    const length = Number(response.headers.get("content-length"));
    if (database.byteLength !== length) {
      throw new Error(
        `The copy of ${className} ${object} arrived with ${database.byteLength} of its ${length} bytes; try again.`,
      );
    }
    return { id: response.headers.get("stead-object-id") ?? object, database };
  }

  importObject(
    className: string,
    record: ObjectRecord,
    options: ImportOptions = {},
  ): Promise<ImportResult> {
    const query = new URLSearchParams();
    if (options.object !== undefined) query.set("object", options.object);
    if (options.replace === true) query.set("replace", "true");
    const search = query.size === 0 ? "" : `?${query}`;
    return this.#call(
      "POST",
      `/api/v1/namespaces/${encodeURIComponent(className)}/import${search}`,
      record,
    ) as Promise<ImportResult>;
  }

  backupControl(): Promise<BackupControl> {
    return this.#call("GET", "/api/v1/backup/control") as Promise<BackupControl>;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await this.#request(method, path, body);
    if (response.status === 204) return undefined;
    if (!response.ok) await this.#fail(response);
    const text = await response.text();
    return text === "" ? undefined : (JSON.parse(text) as unknown);
  }

  async #request(method: string, path: string, body?: unknown): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.#url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new Error(
        `Cannot reach the admin API at ${this.#url} (${(error as Error).cause ?? (error as Error).message}). Is the server running with --admin-port?`,
        { cause: error },
      );
    }
    return response;
  }

  /** Throws the error an answer that is not OK carries. */
  async #fail(response: Response): Promise<never> {
    const text = await response.text();
    let answer: unknown;
    try {
      answer = text === "" ? undefined : JSON.parse(text);
    } catch {
      answer = { error: `HTTP ${response.status}: ${text.slice(0, 200)}` };
    }
    const { error, code } = (answer ?? {}) as { error?: string; code?: SteadErrorCode };
    if (response.status === 401) {
      throw new SteadError(
        "ADMIN_UNAUTHORIZED",
        `The admin API at ${this.#url} refused the token. Set STEAD_ADMIN_TOKEN (or STEAD_ADMIN_READ_TOKEN) to a token the server was started with.`,
      );
    }
    throw new SteadError(code ?? "ADMIN_BAD_REQUEST", error ?? `HTTP ${response.status}`);
  }
}

function objectsPath(className: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(className)}/objects`;
}

function objectPath(className: string, object: string): string {
  return `${objectsPath(className)}/${encodeURIComponent(object)}`;
}
