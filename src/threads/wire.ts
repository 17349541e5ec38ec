import type { MessagePort, Transferable } from "node:worker_threads";
import { MessageChannel } from "node:worker_threads";
import { SteadError, type SteadErrorCode } from "../core/errors.ts";
import { type NodeAddress, ObjectElsewhere } from "../core/object/object-forwarder.ts";
import { cloneError } from "../core/rpc/serialize.ts";
import type { Coupling, NetworkEvents } from "../core/websocket/frames.ts";
import { Response } from "../core/websocket/response.ts";
import { createPair, webSocketInternals } from "../core/websocket/web-socket.ts";

/**
 * How requests, responses and errors cross between threads. Bodies move as transferred streams
 * (so they stay streaming both ways); a 101 response's WebSocket becomes a port that relays its
 * frames (`relayWebSocket`).
 */

/**
 * A body as it crosses: the bytes when the whole body was already there (most bodies: a string
 * or a buffer), or the stream itself, transferred, when it was still arriving.
 */
export type WireBody = Uint8Array | ReadableStream<Uint8Array> | null;

/** A Request as it crosses a thread boundary. */
export interface WireRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: WireBody;
  redirect: RequestRedirect;
}

/** A Response as it crosses a thread boundary. */
export interface WireResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: WireBody;
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
  /** An `ObjectElsewhere`: the cluster node that holds the object. */
  owner?: NodeAddress;
}

export async function toWireRequest(
  request: Request,
  transfer: Transferable[],
): Promise<WireRequest> {
  const body = await takeBody(request.body, transfer);
  return {
    method: request.method,
    url: request.url,
    headers: [...request.headers],
    body,
    redirect: request.redirect,
  };
}

export function fromWireRequest(wire: WireRequest): Request {
  const init: RequestInit & { duplex?: "half" } = {
    method: wire.method,
    headers: wire.headers,
    body: wire.body as BodyInit | null,
    redirect: wire.redirect,
  };
  // Node requires `duplex` for a streamed request body; the DOM types lack it.
  if (wire.body instanceof ReadableStream) init.duplex = "half";
  return new Request(wire.url, init);
}

/** The response's body and WebSocket move to the other thread (a WebSocket is coupled here). */
export async function toWireResponse(
  response: globalThis.Response,
  transfer: Transferable[],
): Promise<WireResponse> {
  let webSocket: MessagePort | undefined;
  const internals = response.status === 101 ? webSocketInternals(response.webSocket) : undefined;
  if (internals !== undefined) {
    const channel = new MessageChannel();
    relay(internals.couple(), channel.port1);
    webSocket = channel.port2;
    transfer.push(webSocket);
  }
  const body = internals === undefined ? await takeBody(response.body, transfer) : null;
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
    return new Response(empty ? null : (wire.body as BodyInit | null), {
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

/** Chunks a body may hand over at once before it is sent as a stream anyway. */
const MAX_EAGER_CHUNKS = 16;

/**
 * Reads what `stream` already holds. A body whose chunks are all there (read before a
 * macrotask passes) crosses as bytes, which costs one copy; transferring a stream costs a
 * message channel and a message per chunk. A body still arriving crosses as a stream that
 * yields the chunks read so far first, so streaming (server-sent events, uploads) still streams.
 */
async function takeBody(
  stream: ReadableStream<Uint8Array> | null,
  transfer: Transferable[],
): Promise<WireBody> {
  if (stream === null) return null;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  for (let i = 0; i < MAX_EAGER_CHUNKS; i++) {
    const read = reader.read();
    const result = await Promise.race([read, nextMacrotask()]);
    if (result === LATER) {
      pending = read;
      break;
    }
    if (result.done) return concat(chunks);
    chunks.push(result.value);
  }
  const rest = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift();
      if (next !== undefined) return controller.enqueue(next);
      const result = await (pending ?? reader.read());
      pending = undefined;
      if (result.done) controller.close();
      else controller.enqueue(result.value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  transfer.push(rest as unknown as Transferable);
  return rest;
}

const LATER = Symbol("later");

function nextMacrotask(): Promise<typeof LATER> {
  return new Promise((resolve) => setImmediate(resolve, LATER));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const total = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
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
  let closeSent = false;
  let closeReceived = false;
  let ended = false;
  // The port is closed once the socket is over: a close each way, or a drop either way.
  const end = () => {
    if (ended) return;
    ended = true;
    port.close();
  };
  const post = (frame: RelayFrame) => {
    if (!ended) port.postMessage(frame);
  };
  const events: NetworkEvents = coupling.attach({
    send: (data) => post({ t: "message", data }),
    close: (code, reason) => {
      post({ t: "close", code, reason });
      closeSent = true;
      if (closeReceived) end();
    },
    terminate: () => {
      post({ t: "disconnect" });
      end();
    },
  });
  port.on("message", (frame: RelayFrame) => {
    switch (frame.t) {
      case "message":
        events.message(frame.data);
        return;
      case "close":
        events.close(frame.code, frame.reason);
        closeReceived = true;
        if (closeSent) end();
        return;
      case "disconnect":
        events.disconnect();
        end();
    }
  });
  // The other side went away without a word (its thread was stopped): the connection dropped.
  port.on("close", () => {
    if (ended) return;
    ended = true;
    events.disconnect();
  });
}

export function toWireError(error: unknown): WireError {
  if (error instanceof ObjectElsewhere) {
    return { ...toWireError(new Error(error.message)), owner: error.owner };
  }
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
  if (wire.owner !== undefined) return new ObjectElsewhere(wire.owner);
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
