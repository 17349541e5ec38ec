import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { z } from "zod";
import { SteadError } from "../core/errors.ts";
import type { Runtime } from "../embedded/create-runtime.ts";
import { Connections } from "./connections.ts";
import {
  badRequestReply,
  type ErrorReply,
  headersTooLargeReply,
  rawReply,
  requestTimeoutReply,
  shuttingDownReply,
  upgradeFailedReply,
} from "./error-reply.ts";
import { handleRequest } from "./handle-request.ts";
import { describeError, type RequestLogRecord, type RequestLogSink } from "./request-log.ts";

/**
 * Takes over a connection whose client asked to upgrade to WebSocket (Node's `'upgrade'`
 * event): `head` is what the client sent after the request headers. The hook owns the socket
 * from then on; a hook that throws or rejects gets the socket answered with a 500 and closed.
 * `closing` aborts when the server starts shutting down: close the connection then (WebSocket
 * code 1001), or it is cut at the shutdown deadline.
 */
export type UpgradeHandler = (
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  closing: AbortSignal,
) => void | Promise<void>;

/** Options of `serve`. */
export interface ServeOptions {
  /** TCP port; 0 picks a free one (read it back from `address.port`). Default 8787. */
  port?: number;
  /** Interface to listen on. Default "127.0.0.1"; "0.0.0.0" or "::" for every interface. */
  host?: string;
  /** Largest request line plus headers; bigger requests get 431. Default 16 KiB. */
  maxHeaderBytes?: number;
  /** Largest request body; bigger ones get 413. Default 100 MiB, as on Cloudflare. */
  maxBodyBytes?: number;
  /** Receives one record per request. Default: records with an error go to stderr. */
  log?: RequestLogSink;
  /**
   * Handles WebSocket upgrade requests. Without it they reach the Worker as plain requests, and
   * a Worker that accepts the WebSocket gets a 501 sent instead.
   */
  upgrade?: UpgradeHandler;
}

/** Where a server listens. */
export interface ServerAddress {
  /** The address bound, e.g. "127.0.0.1" or "::". */
  readonly host: string;
  readonly port: number;
  /** A URL clients on this machine can use, without a trailing slash: "http://127.0.0.1:8787". */
  readonly url: string;
}

/** Options of `SteadServer.close`. */
export interface CloseOptions {
  /** How long in-flight requests may take before their connections are cut. Default 10 s. */
  deadlineMs?: number;
}

/** A running HTTP front. */
export interface SteadServer extends AsyncDisposable {
  readonly address: ServerAddress;
  /** Aborts when `close` is first called (also given to the upgrade hook). */
  readonly closing: AbortSignal;
  /**
   * Stops accepting connections, closes idle ones, lets in-flight requests finish (their
   * responses ask the client to close) and cuts whatever is still open at the deadline,
   * upgraded sockets included. Resolves when every connection is closed. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

const DEFAULT_PORT = 8787;
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

const schema = z
  .object({
    port: z.number().int().min(0).max(65535, "must be a TCP port: 0 to 65535").optional(),
    host: z.string().min(1).optional(),
    maxHeaderBytes: z.number().int().positive().optional(),
    maxBodyBytes: z.number().int().nonnegative().optional(),
    log: z.function().optional(),
    upgrade: z.function().optional(),
  })
  .strict();

/**
 * Serves `runtime` over HTTP/1.1: each request becomes a Web `Request` for the Worker's `fetch`
 * handler, and its `Response` is written back, bodies streamed both ways.
 *
 * @example
 * await using rt = await createRuntime({ main: "./worker.ts", durableObjects: { ROOM: "Room" } });
 * await using server = await serve(rt, { port: 0, log: (r) => console.log(JSON.stringify(r)) });
 * const res = await fetch(`${server.address.url}/hello`);
 */
export async function serve(
  runtime: Pick<Runtime, "fetch">,
  options: ServeOptions = {},
): Promise<SteadServer> {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `  - ${issue.path.join(".") || "(options)"}: ${issue.message}`)
      .join("\n");
    throw new SteadError("INVALID_CONFIG", `Invalid serve() options:\n${problems}`);
  }
  const port = options.port ?? DEFAULT_PORT;
  const host = options.host ?? DEFAULT_HOST;
  const maxHeaderBytes = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
  const log = safeSink(options.log ?? logErrors);
  const upgrade = options.upgrade;
  const connections = new Connections();
  const shutdown = new AbortController();

  const server = createServer({
    maxHeaderSize: maxHeaderBytes,
    // Only WebSocket upgrades leave HTTP, and only when a hook takes them; any other Upgrade
    // header (h2c, say) is ignored and the request served as HTTP/1.1.
    shouldUpgradeCallback: (req) => upgrade !== undefined && isWebSocketUpgrade(req),
  });
  server.on("connection", (socket) => connections.add(socket));

  const clientError = (reply: ErrorReply, socket: Duplex, error: unknown) => {
    socket.end(rawReply(reply));
    log({
      method: "",
      path: "",
      status: reply.status,
      durationMs: 0,
      bytes: 0,
      error: describeError(error),
    });
  };
  server.on("clientError", (error: NodeJS.ErrnoException & { reason?: string }, socket: Duplex) => {
    // Answer only between requests; anything else could corrupt a response being written.
    if (!socket.writable || connections.busy(socket) || error.code === "ECONNRESET") {
      socket.destroy();
    } else if (error.code === "HPE_HEADER_OVERFLOW") {
      clientError(headersTooLargeReply(maxHeaderBytes), socket, error.code);
    } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      clientError(requestTimeoutReply(), socket, error.code);
    } else {
      const reason = error.reason ?? error.message;
      clientError(
        badRequestReply(`malformed HTTP request (${reason})`),
        socket,
        error.code ?? reason,
      );
    }
  });

  const context = {
    runtime,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    fallbackHost: "",
    log,
    connections,
    webSockets: upgrade !== undefined,
  };
  server.on("request", (req, res) => handleRequest(context, req, res));
  // "Expect: 100-continue": invite the body only if it may be sent; handleRequest answers 413
  // to one declared too large, so the client never uploads it.
  server.on("checkContinue", (req, res) => {
    if (!(Number(req.headers["content-length"]) > context.maxBodyBytes)) res.writeContinue();
    handleRequest(context, req, res);
  });

  if (upgrade !== undefined) {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      connections.upgraded(socket);
      const fail = (error: unknown) => {
        log({
          method: req.method ?? "",
          path: req.url ?? "",
          status: 500,
          durationMs: 0,
          bytes: 0,
          error: describeError(error),
        });
        if (socket.writable) socket.end(rawReply(upgradeFailedReply()));
        else socket.destroy();
      };
      if (connections.closing) {
        socket.end(rawReply(shuttingDownReply()));
        return;
      }
      try {
        const result = upgrade(req, socket, head, shutdown.signal);
        if (result instanceof Promise) result.catch(fail);
      } catch (error) {
        fail(error);
      }
    });
  }

  await listen(server, port, host);
  const info = server.address() as AddressInfo;
  const url = `http://${urlHost(host, info)}:${info.port}`;
  context.fallbackHost = url.slice("http://".length);
  // After listening, a server error (rare: the fd failing) must not crash the process.
  server.on("error", (error) =>
    log({ method: "", path: "", status: 0, durationMs: 0, bytes: 0, error: describeError(error) }),
  );

  let closed: Promise<void> | undefined;
  const steadServer: SteadServer = {
    address: { host: info.address, port: info.port, url },
    closing: shutdown.signal,
    close({ deadlineMs = DEFAULT_CLOSE_DEADLINE_MS } = {}) {
      closed ??= new Promise<void>((resolve) => {
        shutdown.abort(new Error("The server is shutting down."));
        const deadline = setTimeout(() => connections.destroyAll(), deadlineMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve();
        });
        connections.closeIdle();
      });
      return closed;
    },
    [Symbol.asyncDispose]() {
      return steadServer.close();
    },
  };
  return steadServer;
}

function listen(
  server: ReturnType<typeof createServer>,
  port: number,
  host: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
      const detail =
        error.code === "EADDRINUSE"
          ? "the port is already in use. Stop the other server, or choose another port."
          : error.code === "EACCES"
            ? "permission denied. Ports below 1024 need privileges; choose a port from 1024 up."
            : error.code === "EADDRNOTAVAIL"
              ? "no network interface has this address. Check the host."
              : error.message;
      const failure = new Error(`Cannot listen on ${where}: ${detail}`, { cause: error });
      Object.assign(failure, { code: error.code });
      reject(failure);
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** The host part of a URL that reaches the server from this machine. */
function urlHost(requested: string, info: AddressInfo): string {
  if (requested === "0.0.0.0" || requested === "::") return "localhost";
  if (requested === "localhost") return requested;
  return info.family === "IPv6" ? `[${info.address}]` : info.address;
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return /\bwebsocket\b/i.test(req.headers.upgrade ?? "");
}

function safeSink(sink: RequestLogSink): RequestLogSink {
  return (record) => {
    try {
      sink(record);
    } catch {
      // A failing log sink must not take the server down.
    }
  };
}

function logErrors(record: RequestLogRecord): void {
  if (record.error === undefined) return;
  console.error(`[stead] ${record.method} ${record.path} ${record.status}: ${record.error}`);
}
