import type { IncomingMessage } from "node:http";
import { CF_OVERRIDE_HEADER } from "./request-cf.ts";

/**
 * The URL a Worker sees for `req`: scheme http, the authority from the Host header (or
 * `fallbackHost`, the listening address, for HTTP/1.0 clients that send none), then the path
 * and query exactly as sent. `X-Forwarded-*` headers are not trusted. Undefined when no valid
 * URL can be made from what the client sent.
 */
export function requestUrl(req: IncomingMessage, fallbackHost: string): string | undefined {
  const target = req.url ?? "/";
  // Origin form, the usual case: concatenated rather than resolved, so "//a" stays a path.
  if (target.startsWith("/")) {
    const url = `http://${req.headers.host || fallbackHost}${target}`;
    return URL.canParse(url) ? url : undefined;
  }
  // Absolute form (sent to proxies; servers must accept it) and "*" (OPTIONS *).
  if (target === "*") return `http://${req.headers.host || fallbackHost}/`;
  const url = URL.parse(target);
  return url !== null && (url.protocol === "http:" || url.protocol === "https:")
    ? url.href
    : undefined;
}

/**
 * Headers about the client's connection to this server, which the server consumes: the body a
 * Worker reads is already de-chunked, `100-continue` is answered here. Cloudflare's edge does
 * not pass them on either, and a Worker that forwards its request with `fetch(url, request)`
 * would have Node's fetch reject them.
 */
const CONNECTION_HEADERS = new Set([
  "keep-alive",
  "transfer-encoding",
  "expect",
  "proxy-connection",
  "http2-settings",
]);

/**
 * Every header of `req` in arrival order, repeated ones kept (joined with ", " as fetch does),
 * except the connection-level ones above. `Connection` and `Upgrade` stay: apps check them.
 */
export function requestHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (!CONNECTION_HEADERS.has(lower) && lower !== CONNECTING_IP && lower !== CF_OVERRIDE_HEADER)
      headers.append(name, raw[i + 1]!);
  }
  // As on Cloudflare, the client's address, never a value the client sent itself.
  const address = req.socket.remoteAddress;
  if (address !== undefined)
    headers.set(CONNECTING_IP, address.startsWith("::ffff:") ? address.slice(7) : address);
  return headers;
}

/** The header Cloudflare sets to the client's IP address; apps rate-limit and log by it. */
const CONNECTING_IP = "cf-connecting-ip";

/**
 * The Request a Worker gets for a client's request: its `signal` is `controller`'s, which the
 * server aborts when the client goes away before the response is complete.
 *
 * Not made with `init.signal`: undici makes a Request that follows a signal register an abort
 * listener, a WeakRef and a FinalizationRegistry entry, which keep each request's garbage alive
 * for an extra collection. On a pass-through Worker that was a sixth of the CPU per request and
 * 60 MB of heap at 30,000 requests/s. The signal still reaches what a Worker does with the
 * request: `request.signal`, `clone()`, `fetch(request)` (the runtime's `fetch` passes a
 * Request's `signal` on) and `stub.fetch(request)` (the object gets this same Request). A copy
 * made with `new Request(request)` follows undici's own signal instead, which never aborts.
 */
export class IncomingRequest extends Request {
  readonly #controller: AbortController;
  /** What Cloudflare knows of the request beyond its headers (`request-cf.ts`). */
  readonly cf: Record<string, unknown> | undefined;

  constructor(
    input: RequestInfo,
    init: RequestInit | undefined,
    controller: AbortController,
    cf?: Record<string, unknown>,
  ) {
    super(input, init);
    this.#controller = controller;
    this.cf = cf;
  }

  override get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** A copy of the request, whose `signal` is this one's. */
  override clone(): IncomingRequest {
    return new IncomingRequest(super.clone(), undefined, this.#controller, this.cf);
  }
}
