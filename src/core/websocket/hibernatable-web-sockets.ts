import type { Clock, TimerHandle } from "../clock.ts";
import type { Frame } from "./frames.ts";
import {
  CLOSE_CODES,
  DISCONNECTED_REASON,
  MAX_AUTO_RESPONSE_BYTES,
  MAX_EVENT_TIMEOUT_MS,
  MAX_HIBERNATABLE_SOCKETS,
  MAX_TAG_LENGTH,
  MAX_TAGS,
  utf8Length,
} from "./limits.ts";
import { WebSocketRequestResponsePair } from "./request-response-pair.ts";
import { type HibernationSink, type WebSocket, webSocketInternals } from "./web-socket.ts";

/** An event of a hibernatable WebSocket, delivered to the object's class handlers. */
export type WebSocketEvent =
  | { kind: "webSocketMessage"; socket: WebSocket; message: string | ArrayBuffer }
  | { kind: "webSocketClose"; socket: WebSocket; code: number; reason: string; wasClean: boolean }
  | { kind: "webSocketError"; socket: WebSocket; error: unknown };

/** What the hibernation manager needs from the object's host. */
export interface HibernationHost {
  /** Delivers an event through the object's queue and gates, waking it if it hibernated. */
  deliver(event: WebSocketEvent): Promise<unknown>;
  readonly clock: Clock;
  /** The set of sockets changed: the host re-decides when to hibernate or evict. */
  changed(): void;
  /** An event handler failed or timed out; nobody else sees it. */
  reportError(error: unknown, event: WebSocketEvent["kind"]): void;
}

interface Entry {
  readonly socket: WebSocket;
  /** Received frames whose events have not started yet; one event per socket runs at a time. */
  readonly pending: Frame[];
  running: boolean;
}

/** Tags and auto-response times live with the socket, so they outlive its registration. */
const tagsOf = new WeakMap<WebSocket, readonly string[]>();
const autoResponseTimes = new WeakMap<WebSocket, number>();

/**
 * The hibernatable WebSockets of one object (Cloudflare's hibernation manager). It belongs to
 * the object's host, not to an instance: the sockets, their tags and attachments, the
 * auto-response and the event timeout stay while the instance hibernates, and the next event
 * constructs a new instance that sees the same sockets.
 */
export class HibernatableWebSockets implements HibernationSink {
  readonly #host: HibernationHost;
  readonly #entries = new Map<WebSocket, Entry>();
  #autoResponse: { request: string; response: string } | undefined;
  #eventTimeoutMs: number | undefined;

  constructor(host: HibernationHost) {
    this.#host = host;
  }

  /** Sockets accepted and not yet finished. */
  get size(): number {
    return this.#entries.size;
  }

  /** `ctx.acceptWebSocket(ws, tags)`. */
  accept(socket: unknown, tags?: unknown): void {
    const internals = webSocketInternals(socket);
    if (internals === undefined) {
      throw new TypeError(
        "Failed to execute 'acceptWebSocket' on 'DurableObjectState': parameter 1 is not of type 'WebSocket'.",
      );
    }
    const ws = socket as WebSocket;
    if (internals.mode !== "pending") {
      throw new Error(
        "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`",
      );
    }
    if (!internals.peerPending) {
      throw new Error(
        "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already been accepted or used in a Response.",
      );
    }
    const distinct = distinctTags(tags);
    if (this.#entries.size >= MAX_HIBERNATABLE_SOCKETS) {
      throw new Error(
        `only ${MAX_HIBERNATABLE_SOCKETS} websockets can be accepted on a single Durable Object instance`,
      );
    }
    tagsOf.set(ws, distinct);
    this.#entries.set(ws, { socket: ws, pending: [], running: false });
    internals.acceptHibernatable(this);
    this.#host.changed();
  }

  /** `ctx.getWebSockets(tag?)`: open sockets (and closing ones still being handled). */
  list(tag?: string): WebSocket[] {
    const sockets: WebSocket[] = [];
    for (const socket of this.#entries.keys()) {
      if (tag === undefined || tagsOf.get(socket)?.includes(String(tag))) sockets.push(socket);
    }
    return sockets;
  }

  /** `ctx.getTags(ws)`. */
  tags(socket: unknown): string[] {
    const internals = webSocketInternals(socket);
    if (internals === undefined) {
      throw new TypeError(
        "Failed to execute 'getTags' on 'DurableObjectState': parameter 1 is not of type 'WebSocket'.",
      );
    }
    const tags = tagsOf.get(socket as WebSocket);
    if (tags !== undefined) return [...tags];
    if (internals.mode === "accepted")
      throw new Error("only hibernatable websockets can have tags.");
    throw new Error(
      "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket.",
    );
  }

  /** `ctx.setWebSocketAutoResponse(pair?)`: no argument clears it. */
  setAutoResponse(pair?: unknown): void {
    if (pair === undefined || pair === null) {
      this.#autoResponse = undefined;
      return;
    }
    if (!(pair instanceof WebSocketRequestResponsePair)) {
      throw new TypeError(
        "Failed to execute 'setWebSocketAutoResponse' on 'DurableObjectState': parameter 1 is not of type 'WebSocketRequestResponsePair'.",
      );
    }
    const requestBytes = utf8Length(pair.request, MAX_AUTO_RESPONSE_BYTES);
    if (requestBytes > MAX_AUTO_RESPONSE_BYTES) {
      throw new RangeError(
        `Request cannot be larger than ${MAX_AUTO_RESPONSE_BYTES} bytes. A request of size ${requestBytes} was provided.`,
      );
    }
    const responseBytes = utf8Length(pair.response, MAX_AUTO_RESPONSE_BYTES);
    if (responseBytes > MAX_AUTO_RESPONSE_BYTES) {
      throw new RangeError(
        `Response cannot be larger than ${MAX_AUTO_RESPONSE_BYTES} bytes. A response of size ${responseBytes} was provided.`,
      );
    }
    this.#autoResponse = { request: pair.request, response: pair.response };
  }

  /** `ctx.getWebSocketAutoResponse()`. */
  autoResponse(): WebSocketRequestResponsePair | null {
    const pair = this.#autoResponse;
    return pair ? new WebSocketRequestResponsePair(pair.request, pair.response) : null;
  }

  /** `ctx.getWebSocketAutoResponseTimestamp(ws)`: when the runtime last auto-responded on it. */
  autoResponseTimestamp(socket: unknown): Date | null {
    const at = autoResponseTimes.get(socket as WebSocket);
    return at === undefined ? null : new Date(at);
  }

  /** `ctx.setHibernatableWebSocketEventTimeout(ms?)`: no argument or 0 unsets it. */
  setEventTimeout(timeoutMs?: number): void {
    if (timeoutMs === undefined || timeoutMs === null || timeoutMs === 0) {
      this.#eventTimeoutMs = undefined;
      return;
    }
    if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0) {
      throw new TypeError(
        `The hibernatable WebSocket event timeout must be a whole number of milliseconds; got ${String(timeoutMs)}.`,
      );
    }
    if (timeoutMs > MAX_EVENT_TIMEOUT_MS) {
      throw new Error(`Event timeout should not exceed ${MAX_EVENT_TIMEOUT_MS} ms.`);
    }
    this.#eventTimeoutMs = timeoutMs;
  }

  /** `ctx.getHibernatableWebSocketEventTimeout()`. */
  eventTimeout(): number | null {
    return this.#eventTimeoutMs ?? null;
  }

  /** A frame arrived on an accepted socket (called by the socket). */
  received(socket: WebSocket, frame: Frame): void {
    const entry = this.#entries.get(socket);
    if (entry === undefined) return;
    const auto = this.#autoResponse;
    if (frame.kind === "message" && auto !== undefined && frame.data === auto.request) {
      // Answered by the runtime: the object is not woken, nor its queue touched.
      webSocketInternals(socket)!.sendFromRuntime(auto.response);
      autoResponseTimes.set(socket, this.#host.clock.now());
      return;
    }
    entry.pending.push(frame);
    this.#next(entry);
  }

  /** Ends every socket (reset or shutdown): a close frame with `code`, no more events. */
  closeAll(code: number, reason: string): void {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    for (const entry of entries) {
      entry.pending.length = 0;
      webSocketInternals(entry.socket)!.closeByRuntime(code, reason);
    }
    if (entries.length > 0) this.#host.changed();
  }

  /** Starts the socket's next event, once its previous one finished (messages stay in order). */
  #next(entry: Entry): void {
    if (entry.running || this.#entries.get(entry.socket) !== entry) return;
    const frame = entry.pending.shift();
    if (frame === undefined) return;
    entry.running = true;
    const event = toEvent(entry.socket, frame);
    const clock = this.#host.clock;
    let timer: TimerHandle | undefined;
    let settled = false;
    const settle = (failed: boolean, error?: unknown) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimer(timer);
      entry.running = false;
      if (failed) this.#host.reportError(error, event.kind);
      if (event.kind === "webSocketMessage") this.#next(entry);
      else this.#finish(entry, event);
    };
    this.#host.deliver(event).then(
      () => settle(false),
      (error: unknown) => settle(true, error),
    );
    const timeoutMs = this.#eventTimeoutMs;
    if (timeoutMs !== undefined) {
      timer = clock.setTimer(
        () =>
          settle(
            true,
            new Error(
              `The ${event.kind}() handler ran longer than the hibernatable WebSocket event timeout (${timeoutMs} ms); the next event of the socket was delivered. Raise it with ctx.setHibernatableWebSocketEventTimeout().`,
            ),
          ),
        timeoutMs,
      );
    }
  }

  /** The socket's last event ran: forget it; a close the app did not answer drops the line. */
  #finish(entry: Entry, event: WebSocketEvent): void {
    if (this.#entries.get(entry.socket) !== entry) return;
    this.#entries.delete(entry.socket);
    const internals = webSocketInternals(entry.socket)!;
    if (event.kind === "webSocketClose" && !internals.closedOutgoing) internals.abort();
    this.#host.changed();
  }
}

function toEvent(socket: WebSocket, frame: Frame): WebSocketEvent {
  switch (frame.kind) {
    case "message":
      return { kind: "webSocketMessage", socket, message: frame.data };
    case "close":
      return {
        kind: "webSocketClose",
        socket,
        code: frame.code,
        reason: frame.reason,
        wasClean: true,
      };
    case "disconnect":
      return {
        kind: "webSocketClose",
        socket,
        code: CLOSE_CODES.abnormal,
        reason: DISCONNECTED_REASON,
        wasClean: false,
      };
    case "error":
      return { kind: "webSocketError", socket, error: frame.error };
  }
}

/** Tags as workerd checks them: at most 10 distinct, each at most 256 characters. */
function distinctTags(tags: unknown): string[] {
  if (tags === undefined || tags === null) return [];
  if (
    typeof tags === "string" ||
    typeof (tags as Iterable<unknown>)[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      "Failed to execute 'acceptWebSocket' on 'DurableObjectState': tags must be an array of strings.",
    );
  }
  const seen = new Set<string>();
  for (const value of tags as Iterable<unknown>) {
    const tag = String(value);
    if (seen.size >= MAX_TAGS) {
      throw new Error(`a Hibernatable WebSocket cannot have more than ${MAX_TAGS} tags`);
    }
    if (tag.length > MAX_TAG_LENGTH) {
      throw new Error(`"${tag}" is longer than the max tag length (${MAX_TAG_LENGTH} characters).`);
    }
    seen.add(tag);
  }
  return [...seen];
}
