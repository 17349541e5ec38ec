import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { SteadError } from "../core/errors.ts";
import { DurableObjectId } from "../core/ids/object-id.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import { ObjectElsewhere } from "../core/object/object-forwarder.ts";
import type { AlarmRecord } from "../core/storage/driver.ts";
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
} from "./cluster-wire.ts";

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
  server.keepAliveTimeout = 60_000;
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
        call.kind === "rpc" ? `The result of ${call.member}()` : "The alarm's outcome",
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
      "A WebSocket upgrade to a Durable Object held by another cluster node cannot be passed through yet; connect to the node that holds the object.",
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
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const args = decodeValue(Buffer.concat(chunks)) as unknown[];
      return { kind: "rpc", member: call.member!, args };
    }
    case "alarm":
      request.resume();
      return { kind: "alarm", record: call.record as AlarmRecord, force: call.force === true };
  }
}
