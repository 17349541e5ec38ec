import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { z } from "zod";
import { SteadError } from "../core/errors.ts";
import { formatOptionIssues } from "../core/invalid-options.ts";
import type { WarningSink } from "./limit-warnings.ts";
import type { RequestLogRecord, RequestLogSink } from "./request-log.ts";

/**
 * What the HTTP front serves: anything with a Worker's `fetch`, such as the runtime
 * `createRuntime()` returns.
 */
export interface FetchTarget {
  fetch(request: Request): Promise<Response>;
}

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
  /**
   * Open connections at most, WebSockets included (each holds a file descriptor). A connection
   * over the cap is answered 503 and closed at once, without reading its request, so those
   * already open are served as before. Default 10,000; `stead start` derives it from the
   * open-file limit (`--max-connections`).
   */
  maxConnections?: number;
  /**
   * How long a client may take to send the request line and headers, from its connection or
   * the first byte of its request; past it the connection gets 408 and is closed. Default 60 s
   * (Node's default, nginx's `client_header_timeout`). Checked every quarter of its length.
   */
  headersTimeoutMs?: number;
  /**
   * How long a request body may go without a byte while the server is reading it; past it the
   * Worker's read fails and the client gets 408 (or the connection is cut if a response was sent).
   * Default 60 s, nginx's `client_body_timeout`: a pause between two reads, not a limit on the
   * whole upload, so a slow but steady upload is never cut. 0 turns it off.
   */
  bodyIdleTimeoutMs?: number;
  /** Receives one record per request. Default: records with an error go to stderr. */
  log?: RequestLogSink;
  /**
   * Receives operator warnings, at most one a minute of each kind: the connection cap was hit,
   * the process ran out of file descriptors. Default: stderr.
   */
  warn?: WarningSink;
  /**
   * Handles WebSocket upgrade requests. Without it they reach the Worker as plain requests, and
   * a Worker that accepts the WebSocket gets a 501 sent instead.
   */
  upgrade?: UpgradeHandler;
  /**
   * Merge the JSON fields of an `X-Stead-Cf` request header into `request.cf`, to try
   * geo-dependent code locally. For development only (`stead dev` turns it on): any client
   * could set it. Default false.
   */
  cfOverrideHeader?: boolean;
  /**
   * Take `request.cf`'s location fields (`country`, `city`, `latitude`, `longitude`, `region`,
   * `timezone`, ..., and `colo`) from the visitor location headers a proxy in front sets
   * (`CF-IPCountry`, `CF-IPCity`, `CF-IPLatitude`, ..., `CF-Ray`), as Cloudflare's proxy sends
   * them to an origin. Only when every request comes through such a proxy: a client reaching the
   * server directly could choose its own location. Default false.
   */
  cfLocationHeaders?: boolean;
}

/**
 * Node's limit on receiving a whole request (headers and body), kept at its default: the body's
 * idle timeout cuts a silent upload long before, and this still ends one that trickles forever.
 */
export const REQUEST_TIMEOUT_MS = 300_000;
const DEFAULT_PORT = 8787;
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;
const DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024;
const DEFAULT_MAX_CONNECTIONS = 10_000;
const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;
const DEFAULT_BODY_IDLE_TIMEOUT_MS = 60_000;

const schema = z
  .object({
    port: z.number().int().min(0).max(65535, "must be a TCP port: 0 to 65535").optional(),
    host: z.string().min(1).optional(),
    maxHeaderBytes: z.number().int().positive().optional(),
    maxBodyBytes: z.number().int().nonnegative().optional(),
    maxConnections: z.number().int().positive().optional(),
    headersTimeoutMs: z
      .number()
      .int()
      .positive()
      .max(REQUEST_TIMEOUT_MS, `must be at most ${REQUEST_TIMEOUT_MS} ms`)
      .optional(),
    bodyIdleTimeoutMs: z.number().int().nonnegative().optional(),
    log: z.function().optional(),
    warn: z.function().optional(),
    upgrade: z.function().optional(),
    cfOverrideHeader: z.boolean().optional(),
    cfLocationHeaders: z.boolean().optional(),
  })
  .strict();

/** `ServeOptions` validated, with every default filled in. */
export type ResolvedServeOptions = Readonly<
  Required<Omit<ServeOptions, "upgrade">> & Pick<ServeOptions, "upgrade">
>;

/** Validates `options` once, at the edge; throws `INVALID_CONFIG` naming each bad option. */
export function resolveServeOptions(options: ServeOptions): ResolvedServeOptions {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    throw new SteadError("INVALID_CONFIG", formatOptionIssues("serve()", parsed.error.issues));
  }
  return Object.freeze({
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? DEFAULT_HOST,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    bodyIdleTimeoutMs: options.bodyIdleTimeoutMs ?? DEFAULT_BODY_IDLE_TIMEOUT_MS,
    log: safeSink(options.log ?? logErrors),
    warn: options.warn ?? warnOnStderr,
    upgrade: options.upgrade,
    cfOverrideHeader: options.cfOverrideHeader ?? false,
    cfLocationHeaders: options.cfLocationHeaders ?? false,
  });
}

/** Node checks its header and request timeouts on an interval; at most this long. */
const MAX_TIMEOUT_CHECK_INTERVAL_MS = 30_000;

/** How often Node should check the header timeout: a quarter of it, at most 30 s. */
export function timeoutCheckInterval(headersTimeoutMs: number): number {
  return Math.min(MAX_TIMEOUT_CHECK_INTERVAL_MS, Math.ceil(headersTimeoutMs / 4));
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

function warnOnStderr(message: string): void {
  console.error(`[stead] ${message}`);
}
