import { type ServerResponse, STATUS_CODES } from "node:http";
import { HTTP_STATUS, SteadError } from "../core/errors.ts";

/** A short plain-text answer the server gives on its own behalf. */
export interface ErrorReply {
  readonly status: number;
  readonly body: string;
}

/** What the client sees when the Worker throws or rejects. */
export function thrownReply(error: unknown): ErrorReply {
  // Stead's own errors say what happened without app data; anything else stays in the log.
  if (error instanceof SteadError) return { status: HTTP_STATUS[error.code], body: error.message };
  return {
    status: 500,
    body: "Internal Server Error: the Worker threw an exception. The server log has the details.",
  };
}

/** What the client sees when the Worker resolves to something other than a Response. */
export function notAResponseReply(value: unknown): ErrorReply {
  return {
    status: 500,
    body: `Internal Server Error: the Worker's fetch handler returned ${describeValue(value)} instead of a Response.`,
  };
}

/** What the client sees when the Worker's response body fails before anything was sent. */
export function bodyFailedReply(): ErrorReply {
  return {
    status: 500,
    body: "Internal Server Error: the Worker's response body failed. The server log has the details.",
  };
}

/** The request body is, or declares to be, larger than the server accepts. */
export function bodyTooLargeReply(limit: number, declared?: number): ErrorReply {
  const size = declared === undefined ? "" : ` (Content-Length: ${declared})`;
  return {
    status: 413,
    body: `Content Too Large: the request body${size} exceeds this server's limit of ${limit} bytes.`,
  };
}

/** The request line and headers are larger than the server accepts. */
export function headersTooLargeReply(limit: number): ErrorReply {
  return {
    status: 431,
    body: `Request Header Fields Too Large: the request line and headers exceed this server's limit of ${limit} bytes.`,
  };
}

/** The request line and headers did not arrive in time. */
export function requestTimeoutReply(): ErrorReply {
  return { status: 408, body: "Request Timeout: the request was not received in time." };
}

/** The request body stopped arriving: no byte for `idleMs` while the server was reading. */
export function bodyTimeoutReply(idleMs: number): ErrorReply {
  return {
    status: 408,
    body: `Request Timeout: no request body bytes arrived for ${seconds(idleMs)}.`,
  };
}

/** A new connection arrived while the server holds its maximum number of connections. */
export function overCapacityReply(max: number): ErrorReply {
  return {
    status: 503,
    body: `Service Unavailable: this server already holds its maximum of ${max.toLocaleString("en-US")} open connections. Retry later.`,
  };
}

/** The request line names an HTTP version other than 1.x (HTTP/2.0 over an HTTP/1 connection). */
export function versionNotSupportedReply(version: string): ErrorReply {
  return {
    status: 505,
    body: `HTTP Version Not Supported: this server speaks HTTP/1.1, and the request line says HTTP/${version}.`,
  };
}

/** The upgrade hook threw or rejected before answering. */
export function upgradeFailedReply(): ErrorReply {
  return {
    status: 500,
    body: "Internal Server Error: the WebSocket upgrade failed. The server log has the details.",
  };
}

/** A new upgrade arrived while the server is closing. */
export function shuttingDownReply(): ErrorReply {
  return { status: 503, body: "Service Unavailable: the server is shutting down." };
}

/** The request could not be parsed, or names a URL that cannot be built. */
export function badRequestReply(reason: string): ErrorReply {
  return { status: 400, body: `Bad Request: ${reason}.` };
}

/** A method Fetch forbids, so no Request can carry it (TRACE, TRACK). */
export function methodNotAllowedReply(method: string): ErrorReply {
  return { status: 405, body: `Method Not Allowed: ${method} requests are not supported.` };
}

/** The Worker answered 101 Switching Protocols where no upgrade can happen. */
export function upgradeUnavailableReply(webSockets: boolean): ErrorReply {
  return webSockets
    ? {
        status: 500,
        body: "Internal Server Error: the Worker returned a 101 Switching Protocols response to a request that did not ask to upgrade.",
      }
    : {
        status: 501,
        body: "Not Implemented: the Worker accepted a WebSocket, but this server was started without WebSocket support.",
      };
}

/** Sends `reply` as the whole response; `close` ends the connection after it. */
export function sendReply(res: ServerResponse, reply: ErrorReply, close = false): void {
  const body = `${reply.body}\n`;
  const headers: Record<string, string | number> = {
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  };
  if (close) headers.connection = "close";
  res.writeHead(reply.status, headers);
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** `reply` as raw HTTP/1.1 bytes, for a socket whose request never became a ServerResponse. */
export function rawReply(reply: ErrorReply): string {
  const body = `${reply.body}\n`;
  return (
    `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? "Error"}\r\n` +
    "Content-Type: text/plain; charset=utf-8\r\n" +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    "Connection: close\r\n\r\n" +
    body
  );
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `a ${typeof value}`;
}
