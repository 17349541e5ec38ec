import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { runInRequest } from "../core/gates/context.ts";
import type { Coupling } from "../core/websocket/frames.ts";
import { webSocketInternals } from "../core/websocket/web-socket.ts";
import { badRequestReply, type ErrorReply, rawReply, thrownReply } from "./error-reply.ts";
import { requestCf } from "./request-cf.ts";
import { requestIdOf } from "./request-id.ts";
import type { RequestLogSink } from "./request-log.ts";
import type { FetchTarget } from "./serve-options.ts";
import { IncomingRequest, requestHeaders, requestUrl } from "./web-request.ts";
import { bindWebSocket, completeHandshake, writePlainResponse } from "./websocket-link.ts";

/** Options of `handleWebSocketUpgrade`. */
export interface WebSocketUpgradeOptions {
  /** Authority for the request URL when the client sent no Host header (e.g. "127.0.0.1:8787"). */
  fallbackHost?: string;
  /** Largest message a client may send, in bytes. Default 32 MiB, Cloudflare's limit. */
  maxPayload?: number;
  /** Receives errors nobody else sees (a Worker that threw, a failed response write). */
  onError?: (error: unknown) => void;
  /** Aborted when the server shuts down: the connection is closed with 1001 (going away). */
  closing?: AbortSignal;
  /** Merge the `X-Stead-Cf` header into `request.cf` (`stead dev` only). Default false. */
  cfOverrideHeader?: boolean;
  /** Location fields of `request.cf` from a trusted proxy's headers (`ServeOptions`). Default false. */
  cfLocationHeaders?: boolean;
  /**
   * Receives the upgrade request's record once it is answered: status 101 when the handshake
   * completed (its duration is the time to the handshake), or the status answered instead.
   */
  log?: RequestLogSink;
  /** Called when an accepted WebSocket closes: its path, close code and how long it was open. */
  onClose?: (record: { requestId: string; path: string; code: number; durationMs: number }) => void;
}

/**
 * Serves a WebSocket upgrade request (Node's `'upgrade'` event) the way Cloudflare does: the
 * request, `Upgrade: websocket` header included, goes to the Worker's `fetch`; a
 * `101` response carrying `webSocket` completes the handshake and joins the real connection to
 * that socket, and any other response is written back as plain HTTP and the connection closed.
 * Protocol pings are answered here and never reach the app; a message over `maxPayload` closes
 * the connection with 1009 and the app's socket gets an error.
 *
 * Never rejects: a Worker that throws gets its error answered as HTTP (and `onError` called).
 *
 * @example
 * server.on("upgrade", (req, socket, head) => handleWebSocketUpgrade(runtime, req, socket, head));
 */
export async function handleWebSocketUpgrade(
  runtime: FetchTarget,
  nodeRequest: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: WebSocketUpgradeOptions = {},
): Promise<void> {
  const onError =
    options.onError ?? ((error) => console.error("[stead] WebSocket upgrade:", error));
  const started = performance.now();
  const path = nodeRequest.url ?? "";
  const requestId = requestIdOf(nodeRequest);
  const log = (status: number, error?: unknown) =>
    options.log?.({
      requestId,
      method: nodeRequest.method ?? "",
      path,
      status,
      durationMs: performance.now() - started,
      bytes: 0,
      ...(error === undefined ? {} : { error: String((error as Error)?.stack ?? error) }),
    });
  const url = requestUrl(nodeRequest, options.fallbackHost ?? "localhost");
  if (url === undefined) {
    socket.end(rawReply(badRequestReply("the request target is not a valid URL")));
    return;
  }
  let cf: Record<string, unknown>;
  try {
    cf = requestCf(nodeRequest, {
      override: options.cfOverrideHeader === true,
      locationHeaders: options.cfLocationHeaders === true,
    });
  } catch (error) {
    socket.end(rawReply(badRequestReply((error as Error).message)));
    return;
  }
  const abort = new AbortController();
  const gone = () => abort.abort(new Error("The client disconnected."));
  socket.once("close", gone);
  let response: Response;
  try {
    response = await runInRequest(requestId, () =>
      runtime.fetch(
        new IncomingRequest(
          url,
          { method: nodeRequest.method, headers: requestHeaders(nodeRequest) },
          abort,
          cf,
        ),
      ),
    );
  } catch (error) {
    onError(error);
    const reply = thrownReply(error);
    endWith(socket, reply);
    log(reply.status, error);
    return;
  } finally {
    socket.off("close", gone);
  }

  const internals = response.status === 101 ? webSocketInternals(response.webSocket) : undefined;
  if (internals === undefined) {
    await writePlainResponse(socket, response).catch((error: unknown) => {
      onError(error);
      socket.destroy();
    });
    log(response.status);
    return;
  }
  let coupling: Coupling;
  try {
    coupling = internals.couple();
  } catch (error) {
    onError(error);
    endWith(socket, thrownReply(error));
    return;
  }
  if (socket.destroyed) {
    coupling.fail();
    return;
  }

  let bound = false;
  // An invalid handshake is answered (400) and the socket closed by ws, without a callback.
  socket.once("close", () => {
    if (!bound) coupling.fail();
  });
  completeHandshake(nodeRequest, socket, head, response, options.maxPayload, (connection) => {
    bound = true;
    bindWebSocket(connection, coupling);
    log(101);
    const opened = performance.now();
    connection.once("close", (code: number) =>
      options.onClose?.({ requestId, path, code, durationMs: performance.now() - opened }),
    );
    const closing = options.closing;
    if (closing === undefined) return;
    const goAway = () => connection.close(1001, "The server is shutting down.");
    if (closing.aborted) goAway();
    else {
      closing.addEventListener("abort", goAway, { once: true });
      connection.once("close", () => closing.removeEventListener("abort", goAway));
    }
  });
}

function endWith(socket: Duplex, reply: ErrorReply): void {
  if (socket.writable) socket.end(rawReply(reply));
  else socket.destroy();
}
