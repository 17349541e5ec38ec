import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { describeError } from "../core/error-text.ts";
import { answerClientErrors } from "./client-errors.ts";
import { ConnectionLimit } from "./connection-limit.ts";
import { Connections } from "./connections.ts";
import { rawReply, shuttingDownReply, upgradeFailedReply } from "./error-reply.ts";
import { handleRequest } from "./handle-request.ts";
import { HttpMetrics } from "./http-metrics.ts";
import { RateLimitedWarnings } from "./limit-warnings.ts";
import { protocolProblem } from "./request-checks.ts";
import { newRequestId, requestIdOf } from "./request-id.ts";
import type { RequestLogSink } from "./request-log.ts";

export type { ServeOptions, UpgradeHandler } from "./serve-options.ts";

import {
  type FetchTarget,
  REQUEST_TIMEOUT_MS,
  resolveServeOptions,
  type ServeOptions,
  timeoutCheckInterval,
} from "./serve-options.ts";

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

const DEFAULT_CLOSE_DEADLINE_MS = 10_000;

/** A running HTTP front. */
export interface SteadServer extends AsyncDisposable {
  readonly address: ServerAddress;
  /** Aborts when `close` is first called (also given to the upgrade hook). */
  readonly closing: AbortSignal;
  /** Connections open now, WebSockets included (at most `maxConnections`). */
  readonly connections: number;
  /** Requests served by status, their durations, and WebSockets: counted since the server started. */
  readonly metrics: HttpMetrics;
  /**
   * Stops accepting connections, closes idle ones, lets in-flight requests finish (their
   * responses ask the client to close) and cuts whatever is still open at the deadline,
   * upgraded sockets included. Resolves when every connection is closed. Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

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
  runtime: FetchTarget,
  options: ServeOptions = {},
): Promise<SteadServer> {
  const resolved = resolveServeOptions(options);
  const { port, host, maxHeaderBytes, upgrade } = resolved;
  const metrics = new HttpMetrics();
  const log = metrics.counting(resolved.log);
  const warnings = new RateLimitedWarnings(resolved.warn);
  const connections = new Connections();
  const shutdown = new AbortController();

  const server = createServer({
    maxHeaderSize: maxHeaderBytes,
    headersTimeout: resolved.headersTimeoutMs,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: timeoutCheckInterval(resolved.headersTimeoutMs),
    // Only WebSocket upgrades leave HTTP, and only when a hook takes them; any other Upgrade
    // header (h2c, say) is ignored and the request served as HTTP/1.1.
    shouldUpgradeCallback: (req) => upgrade !== undefined && isWebSocketUpgrade(req),
  });
  const limit = new ConnectionLimit(resolved.maxConnections, () =>
    warnings.warn("connections", () => overCapacity(limit.max)),
  );
  limit.guard(server, (socket) => connections.add(socket));
  answerClientErrors(server, { connections, log, maxHeaderBytes });

  const context = {
    runtime,
    bodyLimits: { maxBytes: resolved.maxBodyBytes, idleTimeoutMs: resolved.bodyIdleTimeoutMs },
    fallbackHost: "",
    log,
    warnings,
    connections,
    webSockets: upgrade !== undefined,
    cf: { override: resolved.cfOverrideHeader, locationHeaders: resolved.cfLocationHeaders },
  };
  server.on("request", (req, res) => handleRequest(context, req, res));
  // "Expect: 100-continue": invite the body only if it may be sent; handleRequest answers 413
  // to one declared too large, so the client never uploads it.
  server.on("checkContinue", (req, res) => {
    if (!(Number(req.headers["content-length"]) > context.bodyLimits.maxBytes)) {
      res.writeContinue();
    }
    handleRequest(context, req, res);
  });

  if (upgrade !== undefined) {
    takeUpgrades(server, upgrade, connections, log, shutdown.signal, metrics);
  }

  await listen(server, port, host);
  const info = server.address() as AddressInfo;
  const url = `http://${urlHost(host, info)}:${info.port}`;
  context.fallbackHost = url.slice("http://".length);
  // After listening, a server error must not crash the process.
  server.on("error", (error: NodeJS.ErrnoException) => serverError(error, warnings, limit, log));

  const close = closeOnce(server, connections, shutdown);
  const steadServer: SteadServer = {
    address: { host: info.address, port: info.port, url },
    closing: shutdown.signal,
    get connections() {
      return limit.open;
    },
    metrics,
    close,
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

function overCapacity(max: number): string {
  return `Refusing new connections with 503: this server holds its maximum of ${max.toLocaleString("en-US")} open connections. Raise --max-connections / STEAD_MAX_CONNECTIONS (serve() option maxConnections) if the open-file limit allows, or add servers.`;
}

function descriptorsExhausted(code: string, open: number): string {
  const which = code === "ENFILE" ? "the system has" : "this process has";
  return `New connections are being dropped: ${which} run out of file descriptors (${code}, with ${open.toLocaleString("en-US")} connections open). Raise the open-file limit (ulimit -n, or LimitNOFILE= in a systemd unit), or lower --max-connections / STEAD_MAX_CONNECTIONS or --max-open-databases / STEAD_MAX_OPEN_DATABASES.`;
}

/** Sends WebSocket upgrades to `upgrade`, refusing them while closing or when malformed. */
function takeUpgrades(
  server: Server,
  upgrade: NonNullable<ServeOptions["upgrade"]>,
  connections: Connections,
  log: RequestLogSink,
  closing: AbortSignal,
  metrics: HttpMetrics,
): void {
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    connections.upgraded(socket);
    const fail = (error: unknown) => {
      log({
        requestId: requestIdOf(req),
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
    const problem = protocolProblem(req);
    if (problem !== undefined) {
      socket.end(rawReply(problem));
      return;
    }
    metrics.webSocketUpgrades++;
    metrics.webSocketsOpen++;
    socket.once("close", () => metrics.webSocketsOpen--);
    try {
      const result = upgrade(req, socket, head, closing);
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  });
}

/**
 * A server error after listening: running out of file descriptors (accept() failing; libuv then
 * drops the waiting connections) gets a rate-limited warning naming the fix, anything else a log
 * line.
 */
function serverError(
  error: NodeJS.ErrnoException,
  warnings: RateLimitedWarnings,
  limit: ConnectionLimit,
  log: RequestLogSink,
): void {
  if (error.code === "EMFILE" || error.code === "ENFILE") {
    warnings.warn("descriptors", () => descriptorsExhausted(error.code!, limit.open));
    return;
  }
  log({
    requestId: newRequestId(),
    method: "",
    path: "",
    status: 0,
    durationMs: 0,
    bytes: 0,
    error: describeError(error),
  });
}

/**
 * `SteadServer.close`, once: stops accepting, closes idle connections, lets requests and
 * WebSockets (their closing handshake included) finish, and cuts what is left at the deadline.
 */
function closeOnce(
  server: Server,
  connections: Connections,
  shutdown: AbortController,
): SteadServer["close"] {
  let closed: Promise<void> | undefined;
  return ({ deadlineMs = DEFAULT_CLOSE_DEADLINE_MS } = {}) => {
    closed ??= new Promise<void>((resolve) => {
      shutdown.abort(new Error("The server is shutting down."));
      const deadline = setTimeout(() => connections.destroyAll(), deadlineMs);
      server.close(() => {
        connections.allClosed().then(() => {
          clearTimeout(deadline);
          resolve();
        });
      });
      connections.closeIdle();
    });
    return closed;
  };
}
