import { SteadError, type SteadErrorCode } from "../core/errors.ts";
import type {
  AdminQueryResult,
  AdminValue,
  KvPage,
  ObjectInspection,
} from "../core/object/object-admin.ts";
import type { DeadLetterRecord } from "../core/storage/driver.ts";
import type { AdminOperations, ListOptions, NamespaceSummary, ObjectPage } from "./admin-api.ts";

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

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
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
    if (response.status === 204) return undefined;
    const text = await response.text();
    const answer = text === "" ? undefined : (JSON.parse(text) as unknown);
    if (response.ok) return answer;
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
