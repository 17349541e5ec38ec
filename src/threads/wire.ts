import type { MessagePort, Transferable } from "node:worker_threads";
import { MessageChannel } from "node:worker_threads";
import { SteadError, type SteadErrorCode } from "../core/errors.ts";
import { cloneError } from "../core/rpc/serialize.ts";
import type { Coupling, NetworkEvents, WebSocketTransport } from "../core/websocket/frames.ts";
import { Response } from "../core/websocket/response.ts";
import { createPair, webSocketInternals } from "../core/websocket/web-socket.ts";

/**
 * How requests, responses and errors cross between threads. Bodies move as transferred streams
 * (so they stay streaming both ways); a 101 response's WebSocket becomes a port that relays its
 * frames (`relayWebSocket`).
 */

/** A Request as it crosses a thread boundary. */
export interface WireRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | null;
  redirect: RequestRedirect;
}

/** A Response as it crosses a thread boundary. */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ReadableStream<Uint8Array> | null;
  /** For a 101 response: the port relaying its WebSocket's frames. */
  webSocket: MessagePort | undefined;
}

/** An error as it crosses a thread boundary: enough to rebuild what the caller would have seen. */
export interface WireError {
  name: string;
  message: string;
  stack: string | undefined;
  code: SteadErrorCode | undefined;
  remote: boolean | undefined;
  retryable: boolean | undefined;
  overloaded: boolean | undefined;
}

export function toWireRequest(request: Request, transfer: Transferable[]): WireRequest {
  const body = request.body;
  if (body !== null) transfer.push(body as unknown as Transferable);
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body,
    redirect: request.redirect,
  };
}

export function fromWireRequest(wire: WireRequest): Request {
  return new Request(wire.url, {
    method: wire.method,
    headers: wire.headers,
    body: wire.body,
    redirect: wire.redirect,
    // @ts-expect-error Node requires `duplex` for a streamed request body; the DOM types lack it.
    duplex: wire.body === null ? undefined : "half",
  });
}

/** The response's body and WebSocket move to the other thread (a WebSocket is coupled here). */
export function toWireResponse(
  response: globalThis.Response,
  transfer: Transferable[],
): WireResponse {
  let webSocket: MessagePort | undefined;
  const internals = response.status === 101 ? webSocketInternals(response.webSocket) : undefined;
  if (internals !== undefined) {
    const channel = new MessageChannel();
    relay(internals.couple(), channel.port1);
    webSocket = channel.port2;
    transfer.push(webSocket);
  }
  const body = internals === undefined ? response.body : null;
  if (body !== null) transfer.push(body as unknown as Transferable);
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    body,
    webSocket,
  };
}

export function fromWireResponse(wire: WireResponse): Response {
  if (wire.webSocket === undefined) {
    // Node's Response refuses a body on these; the wire carries none for them anyway.
    const empty = wire.status === 204 || wire.status === 205 || wire.status === 304;
    return new Response(empty ? null : wire.body, {
      status: wire.status,
      statusText: wire.statusText,
      headers: wire.headers,
    });
  }
  const [client, server] = createPair();
  relay(webSocketInternals(server)!.couple(), wire.webSocket);
  return new Response(null, {
    status: 101,
    statusText: wire.statusText,
    headers: wire.headers,
    webSocket: client,
  });
}

/** Frames on a relay port (both directions use the same shapes). */
type RelayFrame =
  | { t: "message"; data: string | ArrayBuffer }
  | { t: "close"; code: number; reason: string }
  | { t: "disconnect" };

/**
 * Couples a WebSocket end to a port, as the HTTP front couples one to a connection: frames that
 * reach the end go out on the port, frames from the port are what the far side sent. On the
 * object's thread the end is the one the object returned; on the caller's thread it is the far
 * end of a new pair whose other end the caller gets, so the two pairs and the port act as one.
 */
function relay(coupling: Coupling, port: MessagePort): void {
  const events = coupling.attach(transportOn(port));
  port.on("message", (frame: RelayFrame) => deliverFrame(events, frame, port));
}

function transportOn(port: MessagePort): WebSocketTransport {
  const post = (frame: RelayFrame) => {
    try {
      port.postMessage(frame);
    } catch {
      // The other side is gone; its end already saw the connection drop.
    }
  };
  return {
    send: (data: string | ArrayBuffer) => post({ t: "message", data }),
    close: (code: number, reason: string) => post({ t: "close", code, reason }),
    terminate: () => {
      post({ t: "disconnect" });
      port.close();
    },
  };
}

function deliverFrame(events: NetworkEvents, frame: RelayFrame, port: MessagePort): void {
  switch (frame.t) {
    case "message":
      events.message(frame.data);
      return;
    case "close":
      events.close(frame.code, frame.reason);
      return;
    case "disconnect":
      events.disconnect();
      port.close();
  }
}

export function toWireError(error: unknown): WireError {
  const e = error instanceof Error ? error : new Error(String(error));
  const flags = e as Partial<SteadError>;
  return {
    name: e.name,
    message: e.message,
    stack: e.stack,
    code: e instanceof SteadError ? e.code : undefined,
    remote: flags.remote,
    retryable: flags.retryable,
    overloaded: flags.overloaded,
  };
}

export function fromWireError(wire: WireError): Error {
  if (wire.code !== undefined) {
    return new SteadError(wire.code, wire.message, {
      remote: wire.remote,
      retryable: wire.retryable,
      overloaded: wire.overloaded,
    });
  }
  const template = new Error(wire.message);
  template.name = wire.name;
  const copy = cloneError(template) as Error & { remote?: boolean };
  if (wire.remote !== undefined) copy.remote = wire.remote;
  if (wire.stack !== undefined) copy.stack = wire.stack;
  return copy;
}
