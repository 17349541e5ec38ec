import type { DurableObjectId } from "../ids/object-id.ts";
import type { DurableObjectStorage } from "../storage/durable-object-storage.ts";
import type { HibernatableWebSockets } from "../websocket/hibernatable-web-sockets.ts";
import type { WebSocketRequestResponsePair } from "../websocket/request-response-pair.ts";

/** What `ctx` delegates to: the object's host, for one generation of the object. */
export interface StateHost {
  blockConcurrencyWhile<T>(fn: () => Promise<T>): Promise<T>;
  waitUntil(promise: Promise<unknown>): void;
  abort(reason?: string): never;
}

/**
 * `ctx`, the second half of a Durable Object: its id, storage and the runtime's controls.
 * One exists per instance; a reset makes a new one.
 */
export class DurableObjectState {
  /** This object's id; `id.name` is set for objects addressed by name. */
  readonly id: DurableObjectId;
  /** The object's private storage: KV, SQL, transactions and the alarm. */
  readonly storage: DurableObjectStorage;
  /**
   * Loopback bindings to the Worker's own top-level exports: a service binding per
   * `WorkerEntrypoint` class, a namespace per Durable Object class that has storage (a migration
   * declares it), bound in the config or not.
   *
   * @example
   * const other = this.ctx.exports.Counter.getByName("other");
   */
  readonly exports: Record<string, any>;
  readonly #host: StateHost;
  readonly #sockets: HibernatableWebSockets;

  /** @internal */
  constructor(
    id: DurableObjectId,
    storage: DurableObjectStorage,
    exports: object,
    host: StateHost,
    sockets: HibernatableWebSockets,
  ) {
    this.id = id;
    this.storage = storage;
    this.exports = exports as Record<string, any>;
    this.#host = host;
    this.#sockets = sockets;
  }

  /**
   * Runs `callback` while holding back every other event. If it throws or runs past 30 s, the
   * object is reset (the constructor runs again on the next event).
   *
   * @example
   * constructor(ctx, env) {
   *   super(ctx, env);
   *   ctx.blockConcurrencyWhile(async () => { this.value = (await ctx.storage.get("v")) ?? 0; });
   * }
   */
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T> {
    return this.#host.blockConcurrencyWhile(callback);
  }

  /** Keeps the object in memory until `promise` settles. */
  waitUntil(promise: Promise<unknown>): void {
    this.#host.waitUntil(promise);
  }

  /** Resets the object at once: held outputs fail and the constructor runs on the next event. */
  abort(reason?: string): never {
    return this.#host.abort(reason);
  }

  /**
   * Accepts the server end of a WebSocketPair with the Hibernation API: its messages, closes and
   * errors arrive at the class's `webSocketMessage`, `webSocketClose` and `webSocketError`, and
   * the object may leave memory while the socket stays open. At most 10 tags of 256 characters,
   * and 32,768 sockets per object. Do not also call `ws.accept()`.
   *
   * @example
   * const [client, server] = Object.values(new WebSocketPair());
   * this.ctx.acceptWebSocket(server, ["room:lobby"]);
   * return new Response(null, { status: 101, webSocket: client });
   */
  acceptWebSocket(ws: WebSocket, tags?: string[]): void {
    this.#sockets.accept(ws, tags);
  }

  /** The accepted hibernatable sockets, or those carrying `tag`. */
  getWebSockets(tag?: string): WebSocket[] {
    return this.#sockets.list(tag) as unknown as WebSocket[];
  }

  /** The tags `ws` was accepted with; throws for sockets not accepted with `acceptWebSocket`. */
  getTags(ws: WebSocket): string[] {
    return this.#sockets.tags(ws);
  }

  /**
   * Sets (or with no argument, clears) a request message the runtime answers itself, on every
   * hibernatable socket, without waking the object.
   *
   * @example
   * this.ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
   */
  setWebSocketAutoResponse(maybeReqResp?: WebSocketRequestResponsePair): void {
    this.#sockets.setAutoResponse(maybeReqResp);
  }

  /** The current auto-response pair, or null. */
  getWebSocketAutoResponse(): WebSocketRequestResponsePair | null {
    return this.#sockets.autoResponse();
  }

  /** When the runtime last sent the auto-response on `ws`, or null. */
  getWebSocketAutoResponseTimestamp(ws: WebSocket): Date | null {
    return this.#sockets.autoResponseTimestamp(ws);
  }

  /** Limits how long a hibernatable WebSocket handler may run; no argument or 0 unsets it. */
  setHibernatableWebSocketEventTimeout(timeoutMs?: number): void {
    this.#sockets.setEventTimeout(timeoutMs);
  }

  /** The hibernatable WebSocket event timeout, or null. */
  getHibernatableWebSocketEventTimeout(): number | null {
    return this.#sockets.eventTimeout();
  }
}
