import { once } from "node:events";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import { type Duplex, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SteadError } from "../core/errors.ts";
import { DurableObjectId } from "../core/ids/object-id.ts";
import type { AdminRequest } from "../core/object/object-admin.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import { ObjectElsewhere } from "../core/object/object-forwarder.ts";
import type { AlarmRecord } from "../core/storage/driver.ts";
import { Response } from "../core/websocket/response.ts";
import { webSocketInternals } from "../core/websocket/web-socket.ts";
import { bindWebSocket, completeHandshake, writePlainResponse } from "../server/websocket-link.ts";
import { toWireError } from "../threads/wire.ts";
import {
  authorized,
  CALL_PATH,
  type CallHeader,
  decodeHeader,
  decodeValue,
  encodeHeader,
  encodeValue,
  type ResponseHeader,
  SOCKET_PATH,
} from "./cluster-wire.ts";

/** How long a connection from another node may stay idle (the hint callers close before). */
export const IDLE_CONNECTION_MS = 5_000;

/** Delivers an event another node forwarded to an object of this one, never sending it on. */
export type ForwardedDelivery = (
  namespace: string,
  id: DurableObjectId,
  event: ObjectEvent,
  /** The sender can send the event again (it may be turned away unread). */
  resendable: boolean,
) => Promise<unknown>;

export interface NodeListenerOptions {
  host: string;
  port: number;
  secret: string;
  deliver: ForwardedDelivery;
  /** True once the node is leaving: each answer closes its connection. */
  closing?: () => boolean;
}

/**
 * The listener other cluster nodes send forwarded calls to (`cluster-wire.ts`): checks the
 * secret, delivers the event to the object here, and answers with its outcome, or "elsewhere"
 * when this node does not hold the object.
 */
export async function listenForNodes(options: NodeListenerOptions): Promise<Server> {
  const server = createServer((request, response) => {
    answer(request, response, options).catch((error: unknown) => response.destroy(error as Error));
  });
  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    answerUpgrade(request, socket, head, options).catch(() => socket.destroy());
  });
  // Idle connections are closed by the callers (undici closes one 2 s before the server's hint
  // of 5 s), never by this side while a caller may be writing on them: a leaving node waits for
  // them to go instead of cutting them.
  server.keepAliveTimeout = IDLE_CONNECTION_MS;
  server.listen(options.port, options.host);
  await once(server, "listening");
  return server;
}

async function answer(
  request: IncomingMessage,
  response: ServerResponse,
  options: NodeListenerOptions,
): Promise<void> {
  if (options.closing?.() === true) response.shouldKeepAlive = false;
  if (request.method !== "POST" || request.url !== CALL_PATH) {
    request.resume();
    response.writeHead(404).end();
    return;
  }
  if (!authorized(request.headers.authorization, options.secret)) {
    request.resume();
    response
      .writeHead(401, { "content-type": "text/plain" })
      .end("wrong or missing cluster secret");
    return;
  }
  const call = decodeHeader(request.headers["stead-call"]) as CallHeader;
  let value: unknown;
  try {
    const id = new DurableObjectId(call.id, call.name, call.jurisdiction);
    value = await options.deliver(
      call.namespace,
      id,
      await readEvent(call, request),
      call.resendable === true,
    );
  } catch (error) {
    request.resume();
    if (error instanceof ObjectElsewhere) {
      response
        .writeHead(409, { "stead-outcome": "elsewhere", "stead-owner": encodeHeader(error.owner) })
        .end();
      return;
    }
    response
      .writeHead(500, { "stead-outcome": "error", "content-type": "application/json" })
      .end(JSON.stringify(toWireError(error)));
    return;
  }
  if (call.kind !== "fetch") {
    let bytes: Buffer;
    try {
      bytes = encodeValue(
        value,
        call.kind === "rpc"
          ? `The result of ${call.member}()`
          : call.kind === "admin"
            ? "The admin answer"
            : "The alarm's outcome",
      );
    } catch (error) {
      response
        .writeHead(500, { "stead-outcome": "error", "content-type": "application/json" })
        .end(JSON.stringify(toWireError(error)));
      return;
    }
    response.writeHead(200, { "stead-outcome": "ok" }).end(bytes);
    return;
  }
  const reply = value as Response & { webSocket?: unknown };
  if (reply.status === 101 || reply.webSocket != null) {
    const error = new SteadError(
      "CROSS_NODE_UNSUPPORTED",
      "internal: a WebSocket upgrade was forwarded as a call; upgrades go through the socket path.",
    );
    response
      .writeHead(500, { "stead-outcome": "error", "content-type": "application/json" })
      .end(JSON.stringify(toWireError(error)));
    return;
  }
  const head: ResponseHeader = {
    status: reply.status,
    statusText: reply.statusText,
    headers: [...reply.headers],
  };
  response.writeHead(200, { "stead-outcome": "ok", "stead-response": encodeHeader(head) });
  if (reply.body === null) {
    response.end();
    return;
  }
  await pipeline(Readable.fromWeb(reply.body as never), response);
}

async function readEvent(call: CallHeader, request: IncomingMessage): Promise<ObjectEvent> {
  switch (call.kind) {
    case "fetch": {
      const wire = call.request!;
      const init: RequestInit & { duplex?: "half" } = {
        method: wire.method,
        headers: wire.headers,
        redirect: wire.redirect,
      };
      if (wire.hasBody) {
        init.body = Readable.toWeb(request) as ReadableStream;
        init.duplex = "half";
      } else {
        request.resume();
      }
      return { kind: "fetch", request: new Request(wire.url, init) };
    }
    case "rpc": {
      const args = decodeValue(await readBody(request)) as unknown[];
      return { kind: "rpc", member: call.member!, args };
    }
    case "alarm":
      request.resume();
      return { kind: "alarm", record: call.record as AlarmRecord, force: call.force === true };
    case "admin":
      return { kind: "admin", request: decodeValue(await readBody(request)) as AdminRequest };
  }
}

/**
 * A forwarded WebSocket upgrade (`SOCKET_PATH`): delivers the request to the object here; a 101
 * answer completes the handshake on the link, whose frames then reach the object's socket, and
 * any other answer is written back as plain HTTP.
 */
async function answerUpgrade(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  options: NodeListenerOptions,
): Promise<void> {
  const plain = (status: number, headers: Record<string, string>, body = "") => {
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${lines.join("")}Connection: close\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  };
  if (request.url !== SOCKET_PATH || !authorized(request.headers.authorization, options.secret)) {
    plain(401, { "content-type": "text/plain" }, "wrong or missing cluster secret");
    return;
  }
  const call = decodeHeader(request.headers["stead-call"]) as CallHeader;
  let response: Response;
  try {
    const id = new DurableObjectId(call.id, call.name, call.jurisdiction);
    response = (await options.deliver(
      call.namespace,
      id,
      await readEvent(call, request),
      call.resendable === true,
    )) as Response;
  } catch (error) {
    if (error instanceof ObjectElsewhere) {
      plain(409, { "stead-outcome": "elsewhere", "stead-owner": encodeHeader(error.owner) });
    } else {
      plain(
        500,
        { "stead-outcome": "error", "content-type": "application/json" },
        JSON.stringify(toWireError(error)),
      );
    }
    return;
  }
  const internals = response.status === 101 ? webSocketInternals(response.webSocket) : undefined;
  if (internals === undefined) {
    const headers = new Headers(response.headers);
    headers.set("stead-outcome", "ok");
    await writePlainResponse(
      socket,
      new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      }),
    ).catch(() => socket.destroy());
    return;
  }
  const coupling = internals.couple();
  let bound = false;
  socket.once("close", () => {
    if (!bound) coupling.fail();
  });
  completeHandshake(request, socket, head, response, undefined, (connection) => {
    bound = true;
    bindWebSocket(connection, coupling);
  });
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
