import { Readable } from "node:stream";
import { Pool } from "undici";
import { WebSocket } from "ws";
import { SteadError } from "../core/errors.ts";
import type { DurableObjectId } from "../core/ids/object-id.ts";
import type { ObjectEvent } from "../core/object/object-class.ts";
import {
  type NodeAddress,
  NodeUnreachable,
  ObjectElsewhere,
  type ObjectForwarder,
} from "../core/object/object-forwarder.ts";
import { CLOSE_CODES, MAX_RECEIVED_MESSAGE_BYTES } from "../core/websocket/limits.ts";
import { Response } from "../core/websocket/response.ts";
import { createPair, webSocketInternals } from "../core/websocket/web-socket.ts";
import { bindWebSocket } from "../server/websocket-link.ts";
import { fromWireError } from "../threads/wire.ts";
import {
  bearer,
  CALL_PATH,
  type CallHeader,
  decodeHeader,
  decodeValue,
  encodeHeader,
  encodeValue,
  type ResponseHeader,
  SOCKET_PATH,
} from "./cluster-wire.ts";
import type { PeerWatch } from "./peer-watch.ts";

/** How long connecting to another node may take before it counts as unreachable. */
const CONNECT_TIMEOUT_MS = 2_000;

/** Connections kept to each other node. */
const CONNECTIONS_PER_NODE = 16;

/** Errors of a connection that was never made: the call cannot have run at the far end. */
const NOT_CONNECTED = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Statuses whose Response has no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * Sends events to the node that holds their object, over HTTP/1.1 with kept-alive connections
 * (undici's `Pool`, one per node), authenticated with the cluster secret (`cluster-wire.ts`).
 */
export class HttpForwarder implements ObjectForwarder, AsyncDisposable {
  readonly node: string;
  readonly #secret: string;
  readonly #pools = new Map<string, Pool>();
  readonly #watch: PeerWatch | undefined;

  /** `watch`: gives up on calls waiting on a node whose lease ended (dead or paused). */
  constructor(node: string, secret: string, watch?: PeerWatch) {
    this.node = node;
    this.#secret = secret;
    this.#watch = watch;
  }

  async forward(
    owner: NodeAddress,
    namespace: string,
    id: DurableObjectId,
    event: ObjectEvent,
    resendable: boolean,
  ): Promise<unknown> {
    const call: CallHeader = {
      resendable,
      namespace,
      id: id.toString(),
      name: id.name,
      jurisdiction: id.jurisdiction,
      kind: "rpc",
    };
    let body: Buffer | Readable | null = null;
    switch (event.kind) {
      case "fetch": {
        const { request } = event;
        call.kind = "fetch";
        call.request = {
          method: request.method,
          url: request.url,
          headers: [...request.headers],
          redirect: request.redirect,
          hasBody: request.body !== null,
        };
        if (request.body !== null)
          body = Readable.from(untilRead(request.body), { objectMode: false });
        break;
      }
      case "rpc":
        call.member = event.member;
        body = encodeValue(event.args ?? [], `The arguments of ${event.member}()`);
        break;
      case "alarm":
        call.kind = "alarm";
        call.record = event.record;
        call.force = event.force === true;
        break;
      case "admin":
        call.kind = "admin";
        body = encodeValue(event.request, "The admin request");
        break;
      default:
        throw new SteadError(
          "CROSS_NODE_UNSUPPORTED",
          `A "${event.kind}" event cannot be sent to a Durable Object on another cluster node yet.`,
        );
    }
    if (event.kind === "fetch" && isUpgrade(event)) return this.#upgrade(owner, call, event);
    const controller = new AbortController();
    const unwatch = this.#watch?.watch(owner.node, controller);
    try {
      return await this.#send(owner, call, body, controller.signal);
    } finally {
      unwatch?.();
    }
  }

  async #send(
    owner: NodeAddress,
    call: CallHeader,
    body: Buffer | Readable | null,
    signal: AbortSignal,
  ): Promise<unknown> {
    const namespace = call.namespace;
    let reply: Awaited<ReturnType<Pool["request"]>>;
    try {
      reply = await this.#pool(owner.address).request({
        path: CALL_PATH,
        method: "POST",
        headers: { authorization: bearer(this.#secret), "stead-call": encodeHeader(call) },
        body,
        signal,
      });
    } catch (error) {
      const sent = signal.aborted || !NOT_CONNECTED.has((error as { code?: string }).code ?? "");
      const why = signal.aborted ? (signal.reason as Error).message : (error as Error).message;
      throw new NodeUnreachable(
        sent
          ? `Cluster node ${owner.node} at ${owner.address}, which holds object ${call.id} of ${namespace}, did not answer (${why}); the call may or may not have run there. Retry if it is safe to; once the node's lease ends another node takes the object over.`
          : `Cluster node ${owner.node} at ${owner.address}, which holds object ${call.id} of ${namespace}, could not be reached (${why}). Retry; once its lease ends another node takes the object over.`,
        sent,
        error,
      );
    }
    const outcome = reply.headers["stead-outcome"];
    if (outcome === "elsewhere") {
      await reply.body.dump();
      throw new ObjectElsewhere(decodeHeader(reply.headers["stead-owner"]) as NodeAddress);
    }
    if (outcome === "error") throw fromWireError((await reply.body.json()) as never);
    if (outcome !== "ok") {
      const text = await reply.body.text();
      throw new SteadError(
        "CLUSTER_UNAUTHORIZED",
        `Cluster node ${owner.node} at ${owner.address} refused the call (${reply.statusCode}: ${text.slice(0, 200)}). Give every node the same STEAD_CLUSTER_SECRET.`,
      );
    }
    if (call.kind === "fetch") {
      const head = decodeHeader(reply.headers["stead-response"]) as ResponseHeader;
      const stream = NULL_BODY.has(head.status) ? null : Readable.toWeb(reply.body);
      if (stream === null) await reply.body.dump();
      return new Response(stream as ReadableStream | null, {
        status: head.status,
        statusText: head.statusText,
        headers: head.headers,
      });
    }
    return decodeValue(new Uint8Array(await reply.body.arrayBuffer()));
  }

  /**
   * A WebSocket upgrade: a WebSocket handshake with the holder, which answers 101 once the
   * object accepted. The link then carries the socket's frames; if it drops (the holder died),
   * the caller's socket is closed with 1012 so the client reconnects, reaching the new holder.
   */
  #upgrade(
    owner: NodeAddress,
    call: CallHeader,
    event: Extract<ObjectEvent, { kind: "fetch" }>,
  ): Promise<Response> {
    const offered = (event.request.headers.get("sec-websocket-protocol") ?? "")
      .split(",")
      .map((protocol) => protocol.trim())
      .filter((protocol) => protocol !== "");
    const link = new WebSocket(`ws://${owner.address}${SOCKET_PATH}`, offered, {
      headers: { authorization: bearer(this.#secret), "stead-call": encodeHeader(call) },
      perMessageDeflate: false,
      maxPayload: MAX_RECEIVED_MESSAGE_BYTES,
      handshakeTimeout: CONNECT_TIMEOUT_MS * 2,
    });
    return new Promise<Response>((resolve, reject) => {
      link.once("open", () => {
        const [client, server] = createPair();
        bindWebSocket(link, webSocketInternals(server)!.couple(), {
          code: CLOSE_CODES.serviceRestart,
          reason: `The node holding this Durable Object (${owner.node}) went away; reconnect.`,
        });
        const headers: [string, string][] =
          link.protocol === "" ? [] : [["sec-websocket-protocol", link.protocol]];
        resolve(new Response(null, { status: 101, headers, webSocket: client }));
      });
      link.once("unexpected-response", (_request, reply) => {
        const outcome = reply.headers["stead-outcome"];
        const readAll = async () => {
          const chunks: Buffer[] = [];
          for await (const chunk of reply) chunks.push(chunk as Buffer);
          return Buffer.concat(chunks).toString("utf8");
        };
        if (outcome === "elsewhere") {
          reply.resume();
          reject(new ObjectElsewhere(decodeHeader(reply.headers["stead-owner"]) as NodeAddress));
        } else if (outcome === "error") {
          readAll().then((text) => reject(fromWireError(JSON.parse(text))), reject);
        } else if (outcome === "ok") {
          const headers = new Headers();
          for (const [name, value] of Object.entries(reply.headers)) {
            if (name === "stead-outcome" || name === "connection" || value === undefined) continue;
            headers.set(name, Array.isArray(value) ? value.join(", ") : value);
          }
          const status = reply.statusCode ?? 500;
          resolve(
            new Response(NULL_BODY.has(status) ? null : (Readable.toWeb(reply) as ReadableStream), {
              status,
              statusText: reply.statusMessage ?? "",
              headers,
            }),
          );
        } else {
          readAll().then(
            (text) =>
              reject(
                new SteadError(
                  "CLUSTER_UNAUTHORIZED",
                  `Cluster node ${owner.node} at ${owner.address} refused the WebSocket (${reply.statusCode}: ${text.slice(0, 200)}). Give every node the same STEAD_CLUSTER_SECRET.`,
                ),
              ),
            reject,
          );
        }
      });
      link.once("error", (error: Error & { code?: string }) => {
        reject(
          new NodeUnreachable(
            `Cluster node ${owner.node} at ${owner.address}, which holds object ${call.id} of ${call.namespace}, could not be reached for a WebSocket (${error.message}). Retry; once its lease ends another node takes the object over.`,
            !NOT_CONNECTED.has(error.code ?? ""),
            error,
          ),
        );
      });
    });
  }

  #pool(address: string): Pool {
    let pool = this.#pools.get(address);
    if (pool === undefined) {
      pool = new Pool(`http://${address}`, {
        connections: CONNECTIONS_PER_NODE,
        // A host that does not answer the connection is unreachable well within a lease: the
        // call never left, so it can go to whichever node claims the object next.
        connect: { timeout: CONNECT_TIMEOUT_MS },
      });
      this.#pools.set(address, pool);
    }
    return pool;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.close()));
    this.#pools.clear();
  }
}

/**
 * A request body that undici reads only once it sends the request: a node that cannot be
 * reached leaves the body untouched (`bodyUsed` false), so the event can go elsewhere.
 */
async function* untilRead(stream: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function isUpgrade(event: Extract<ObjectEvent, { kind: "fetch" }>): boolean {
  return event.request.headers.get("upgrade")?.toLowerCase() === "websocket";
}
