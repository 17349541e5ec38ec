import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { errorMessage } from "../core/error-text.ts";
import { HTTP_STATUS, SteadError } from "../core/errors.ts";
import type { ObjectSnapshot } from "../core/object/object-admin.ts";
import type { AdminOperations } from "./admin-api.ts";
import { consoleFileOf, serveConsoleFile } from "./console-files.ts";

/** Who may do what: a read-write token, and optionally a read-only one. */
export interface AdminTokens {
  readWrite: string;
  readOnly?: string;
}

export interface AdminServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  tokens: AdminTokens;
  api: AdminOperations;
  /** Prometheus text for `/metrics`, when the runtime has metrics. */
  metrics?: () => Promise<string>;
}

/** Bodies the admin API reads (a query and its parameters), at most. */
const MAX_BODY_BYTES = 1024 * 1024;
/** An import's body: one object's export record, at most (docs/limits.md). */
export const MAX_IMPORT_BYTES = 512 * 1024 * 1024;

type Access = "read" | "write";

interface Route {
  method: string;
  pattern: RegExp;
  access: Access | ((body: unknown) => Access);
  /** Largest body it reads (default `MAX_BODY_BYTES`). */
  maxBody?: number;
  handle(params: string[], url: URL, body: unknown): Promise<unknown>;
}

/**
 * The admin API on its own listener: JSON under `/api/v1/`, every request with a bearer token.
 * A read-only token reads; writes (a query with `write`, a delete) need the read-write token.
 * The web console's static files (`/`, `/console/*`) are served without one: they hold no data,
 * and the page sends the token it is given with each API call.
 */
export class AdminServer {
  readonly #server: Server;
  readonly #options: AdminServerOptions;
  readonly #routes: Route[];

  private constructor(options: AdminServerOptions) {
    this.#options = options;
    this.#routes = routesOf(options);
    this.#server = createServer((request, response) => {
      this.#answer(request, response).catch((error: unknown) => {
        if (!response.headersSent) reply(response, 500, { error: "internal error" });
        else response.destroy(error as Error);
      });
    });
  }

  /** Listens on `options.host:options.port`; resolves once listening. */
  static async listen(options: AdminServerOptions): Promise<AdminServer> {
    const server = new AdminServer(options);
    await new Promise<void>((resolve, reject) => {
      server.#server.once("error", reject);
      server.#server.listen(options.port, options.host, () => {
        server.#server.off("error", reject);
        resolve();
      });
    });
    return server;
  }

  /** Where the API answers, like `http://127.0.0.1:8788`. */
  get url(): string {
    const address = this.#server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? "/", "http://admin");
    const file = consoleFileOf(request.method, url.pathname);
    if (file !== undefined) {
      await serveConsoleFile(request, response, file);
      return;
    }
    const granted = this.#access(request.headers.authorization);
    if (granted === undefined) {
      request.resume();
      reply(response, 401, { error: "unauthorized" }, { "www-authenticate": "Bearer" });
      return;
    }
    const route = this.#routes.find(
      (candidate) => candidate.method === request.method && candidate.pattern.test(url.pathname),
    );
    try {
      if (route === undefined) {
        throw new SteadError(
          "ADMIN_NOT_FOUND",
          `No admin endpoint ${request.method} ${url.pathname}. See docs/operations.md.`,
        );
      }
      const body =
        request.method === "POST" ? await readJson(request, route.maxBody ?? MAX_BODY_BYTES) : null;
      if (request.method !== "POST") request.resume();
      const needed = typeof route.access === "function" ? route.access(body) : route.access;
      if (needed === "write" && granted !== "write") {
        throw new SteadError(
          "ADMIN_FORBIDDEN",
          "This request writes, and the token given is read-only. Use the read-write token (STEAD_ADMIN_TOKEN).",
        );
      }
      const params = route.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent);
      const result = await route.handle(params, url, body);
      if (isSnapshot(result)) {
        // A database copy: the bytes of a SQLite file, its object's id in a header.
        response.writeHead(200, {
          "content-type": "application/vnd.sqlite3",
          "content-length": result.database.byteLength,
          "stead-object-id": result.id,
        });
        response.end(result.database);
      } else if (typeof result === "string") {
        response.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        response.end(result);
      } else {
        reply(response, result === undefined ? 204 : 200, result);
      }
    } catch (error) {
      const status = error instanceof SteadError ? HTTP_STATUS[error.code] : 500;
      const message = errorMessage(error);
      reply(response, status, {
        error: status === 500 ? `internal error: ${message}` : message,
        ...(error instanceof SteadError ? { code: error.code } : {}),
      });
    }
  }

  /** The access a bearer token grants, or undefined for none. */
  #access(header: string | undefined): Access | undefined {
    const match = /^Bearer (.+)$/.exec(header ?? "");
    if (match === null) return undefined;
    const token = match[1]!;
    const { readWrite, readOnly } = this.#options.tokens;
    if (same(token, readWrite)) return "write";
    if (readOnly !== undefined && same(token, readOnly)) return "read";
    return undefined;
  }
}

function routesOf(options: AdminServerOptions): Route[] {
  const { api } = options;
  const object = "/api/v1/namespaces/([^/]+)/objects/([^/]+)";
  return [
    {
      method: "GET",
      pattern: /^\/api\/v1\/namespaces$/,
      access: "read",
      handle: () => api.namespaces(),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/objects$/,
      access: "read",
      handle: ([className], url) => {
        const limit = url.searchParams.get("limit");
        return api.list(className!, {
          ...optional("prefix", url.searchParams.get("prefix")),
          ...optional("cursor", url.searchParams.get("cursor")),
          ...(limit === null ? {} : { limit: Number(limit) }),
        });
      },
    },
    {
      method: "GET",
      pattern: new RegExp(`^${object}$`),
      access: "read",
      handle: ([className, name]) => api.inspect(className!, name!),
    },
    {
      method: "GET",
      pattern: new RegExp(`^${object}/kv$`),
      access: "read",
      handle: ([className, name], url) => {
        const limit = url.searchParams.get("limit");
        return api.kv(className!, name!, {
          ...optional("after", url.searchParams.get("after")),
          ...(limit === null ? {} : { limit: Number(limit) }),
        });
      },
    },
    {
      method: "POST",
      pattern: new RegExp(`^${object}/sql$`),
      access: (body) => ((body as { write?: unknown } | null)?.write === true ? "write" : "read"),
      handle: ([className, name], _url, body) => {
        const { query, params, write } = (body ?? {}) as Record<string, unknown>;
        return api.sql(className!, name!, query as string, {
          params: (params ?? []) as never,
          write: write === true,
        });
      },
    },
    {
      method: "DELETE",
      pattern: new RegExp(`^${object}$`),
      access: "write",
      handle: async ([className, name]) => {
        await api.delete(className!, name!);
        return undefined;
      },
    },
    {
      method: "GET",
      pattern: new RegExp(`^${object}/database$`),
      access: "read",
      handle: ([className, name]) => api.snapshot(className!, name!),
    },
    {
      method: "POST",
      pattern: /^\/api\/v1\/namespaces\/([^/]+)\/import$/,
      access: "write",
      maxBody: MAX_IMPORT_BYTES,
      handle: ([className], url, body) =>
        api.importObject(className!, body as never, {
          ...optional("object", url.searchParams.get("object")),
          replace: url.searchParams.get("replace") === "true",
        }),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/backup\/control$/,
      // It holds the namespaces' id keys, secrets: only the read-write token reads them.
      access: "write",
      handle: () => api.backupControl(),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/dead-letters$/,
      access: "read",
      handle: () => api.deadLetters(),
    },
    {
      method: "POST",
      pattern: new RegExp(`^${object}/dead-letters/(retry|discard)$`),
      access: "write",
      handle: async ([className, name, action]) => ({
        [action === "retry" ? "retried" : "discarded"]:
          action === "retry"
            ? await api.retryDeadLetters(className!, name!)
            : await api.discardDeadLetters(className!, name!),
      }),
    },
    {
      method: "GET",
      pattern: /^\/api\/v1\/feed$/,
      access: "read",
      handle: async () => {
        const status = await api.feed?.();
        if (status === undefined) {
          throw new SteadError(
            "ADMIN_NOT_FOUND",
            "This server runs no change feed; start it with --feed-classes and --feed.",
          );
        }
        return status;
      },
    },
    {
      method: "GET",
      pattern: /^\/metrics$/,
      access: "read",
      handle: () => {
        if (options.metrics === undefined) {
          throw new SteadError("ADMIN_NOT_FOUND", "This server keeps no metrics.");
        }
        return options.metrics();
      },
    },
  ];
}

function isSnapshot(value: unknown): value is ObjectSnapshot {
  return (
    value !== null &&
    typeof value === "object" &&
    (value as Partial<ObjectSnapshot>).database instanceof Uint8Array
  );
}

function optional(key: string, value: string | null): Record<string, string> {
  return value === null ? {} : { [key]: value };
}

async function readJson(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      throw new SteadError(
        "ADMIN_BAD_REQUEST",
        `The request body is over ${maxBytes} bytes; send a shorter one.`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return null;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new SteadError("ADMIN_BAD_REQUEST", "The request body is not JSON.");
  }
}

function reply(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (status === 204) {
    response.writeHead(204, headers).end();
    return;
  }
  response
    .writeHead(status, { "content-type": "application/json", ...headers })
    .end(JSON.stringify(body));
}

function same(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
