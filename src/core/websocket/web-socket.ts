import { currentObject, type ObjectContext, runOutsideObject } from "../gates/context.ts";
import { deserializeValue, serializeValue } from "../values/value-serializer.ts";
import {
  type Coupling,
  type Frame,
  forward,
  frameEvent,
  messageBytes,
  type NetworkEvents,
  toMessageData,
  type WebSocketTransport,
} from "./frames.ts";
import {
  attachmentTooLarge,
  CLOSE_CODES,
  closeReasonTooLong,
  invalidCloseCode,
  isSendableCloseCode,
  MAX_ATTACHMENT_BYTES,
  MAX_CLOSE_REASON_BYTES,
  MAX_RECEIVED_MESSAGE_BYTES,
  messageTooLarge,
  utf8Length,
} from "./limits.ts";
import { OutgoingFrames } from "./outgoing-frames.ts";
import { SocketEventTarget } from "./socket-event-target.ts";

/** Receives the frames of a socket accepted with `ctx.acceptWebSocket()`. */
export interface HibernationSink {
  received(socket: WebSocket, frame: Frame): void;
}

/** How an end was taken into use; decides where the frames it receives go. */
type Mode =
  /** Not yet accepted or returned in a response: received frames wait here. */
  | { kind: "pending"; inbox: Frame[] }
  /** `accept()`ed: frames become events on the socket, in the object that accepted it. */
  | {
      kind: "accepted";
      allowHalfOpen: boolean;
      owner: ObjectContext | undefined;
      backlog: Frame[] | undefined;
    }
  /** `ctx.acceptWebSocket()`ed: frames go to the object's hibernation manager. */
  | { kind: "hibernatable"; sink: HibernationSink; backlog: Frame[] | undefined }
  /** Returned in a response: frames go to the network once the server attaches it. */
  | { kind: "coupled"; transport: WebSocketTransport | undefined; inbox: Frame[] };

const CONSTRUCT = Symbol("stead.webSocket.construct");
const NATIVE = Symbol.for("stead.nativeWebSocket");
const slots = globalThis as unknown as Record<symbol, typeof globalThis.WebSocket | undefined>;
/**
 * Node's client WebSocket, captured before the runtime replaces the global (and kept across
 * copies of this module, as `NativeResponse` is).
 */
export const NativeWebSocket: typeof globalThis.WebSocket = (slots[NATIVE] ??=
  globalThis.WebSocket);

/** Runtime-side access to a socket, for the hibernation manager and the server. */
export interface WebSocketInternals {
  readonly mode: Mode["kind"];
  /** True once the app closed its side. */
  readonly closedOutgoing: boolean;
  /** True while the other end of the pair was neither accepted nor returned in a response. */
  readonly peerPending: boolean;
  /** Implements `ctx.acceptWebSocket()` (after the caller checked the object-level limits). */
  acceptHibernatable(sink: HibernationSink): void;
  /** Hands the end to the server, for a 101 response (throws as Cloudflare does if it cannot). */
  couple(): Coupling;
  /** Sends a message for the runtime (auto-responses): not gated, after earlier sends. */
  sendFromRuntime(text: string): void;
  /** Ends the socket for the runtime: held sends are dropped, a close frame goes out, no events. */
  closeByRuntime(code: number, reason: string): void;
  /** Drops the connection without a close frame. */
  abort(): void;
}

let internalsOf: (socket: unknown) => WebSocketInternals | undefined;

/** The runtime-side handle of `socket`, or undefined if it is not one of Stead's WebSockets. */
export function webSocketInternals(socket: unknown): WebSocketInternals | undefined {
  return internalsOf(socket);
}

/** Makes the two connected ends of a `WebSocketPair`. */
export function createPair(): [WebSocket, WebSocket] {
  const End = WebSocket as unknown as new (token: typeof CONSTRUCT) => WebSocket;
  const first = new End(CONSTRUCT);
  const second = new End(CONSTRUCT);
  linkPeers(first, second);
  return [first, second];
}

let linkPeers: (a: WebSocket, b: WebSocket) => void;

/**
 * A WebSocket as Cloudflare Workers have it: one end of a `WebSocketPair`. The server end is
 * taken into use with `accept()` (events on this object) or `ctx.acceptWebSocket()` (events on
 * the Durable Object, which may hibernate); the client end is returned in
 * `new Response(null, { status: 101, webSocket: client })`.
 *
 * @example
 * const [client, server] = Object.values(new WebSocketPair());
 * server.accept();
 * server.addEventListener("message", (event) => server.send(`echo: ${event.data}`));
 * return new Response(null, { status: 101, webSocket: client });
 */
export class WebSocket extends SocketEventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static readonly READY_STATE_CONNECTING = 0;
  static readonly READY_STATE_OPEN = 1;
  static readonly READY_STATE_CLOSING = 2;
  static readonly READY_STATE_CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  /** Type of binary message data in `message` events: `ArrayBuffer` (default) or `Blob`. */
  binaryType: "arraybuffer" | "blob" = "arraybuffer";
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;

  #peer: WebSocket | undefined;
  #mode: Mode = { kind: "pending", inbox: [] };
  #closedOutgoing = false;
  #closedIncoming = false;
  /** The other side is gone: sends are dropped silently, as the spec asks. */
  #outgoingAborted = false;
  #error: Error | undefined;
  #attachment: Buffer | undefined;
  readonly #outgoing = new OutgoingFrames((frame) => {
    if (this.#peer !== undefined) this.#peer.#receive(frame);
  });
  /** Releases the object the socket pins in memory (standard API), once finished. */
  #release: (() => void) | undefined;

  /**
   * `new WebSocket(url, protocols?)` opens an outgoing connection, as on Cloudflare: Node's
   * client WebSocket makes it (same events, `send()` and `close()`; no `accept()` needed). The
   * ends of a pair come from `new WebSocketPair()`.
   */
  constructor(url: string | URL, protocols?: string | string[]);
  constructor(url?: unknown, protocols?: string | string[]) {
    super();
    if (url !== CONSTRUCT) {
      if (url === undefined) {
        throw new TypeError(
          "Failed to construct 'WebSocket': 1 argument required, but only 0 present. Pass the URL to connect to, or make a pair with new WebSocketPair().",
        );
      }
      // biome-ignore lint/correctness/noConstructorReturn: a client connection is Node's WebSocket.
      return new NativeWebSocket(url as string | URL, protocols) as unknown as WebSocket;
    }
  }

  /** Both the ends of pairs and outgoing connections are WebSockets, as on Cloudflare. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return (
      (typeof value === "object" && value !== null && #mode in value) ||
      value instanceof NativeWebSocket
    );
  }

  static {
    linkPeers = (a, b) => {
      a.#peer = b;
      b.#peer = a;
    };
    internalsOf = (socket) =>
      typeof socket === "object" && socket !== null && #mode in socket
        ? (socket as WebSocket).#internals()
        : undefined;
  }

  /** `OPEN`, `CLOSING` once a close frame was sent or received, `CLOSED` once both were. */
  get readyState(): number {
    if ((this.#closedIncoming && this.#closedOutgoing) || this.#error) return WebSocket.CLOSED;
    if (this.#closedIncoming || this.#closedOutgoing) return WebSocket.CLOSING;
    return WebSocket.OPEN;
  }

  get url(): string | null {
    return null;
  }

  get protocol(): string {
    return "";
  }

  get extensions(): string {
    return "";
  }

  get bufferedAmount(): number {
    return 0;
  }

  /**
   * Starts delivering this end's events (`message`, `close`, `error`) to its listeners. In a
   * Durable Object the socket keeps the object in memory while open; use
   * `ctx.acceptWebSocket()` instead to let it hibernate.
   *
   * `allowHalfOpen: true` stops the runtime from answering a received close frame, for proxies.
   */
  accept(options?: { allowHalfOpen?: boolean }): void {
    const mode = this.#mode;
    switch (mode.kind) {
      case "coupled":
        throw new TypeError("Can't accept() WebSocket that was already used in a response.");
      case "hibernatable":
        throw new TypeError("Can't accept() WebSocket after enabling hibernation.");
      case "accepted":
        return;
    }
    const owner = currentObject();
    const accepted: Mode = {
      kind: "accepted",
      allowHalfOpen: options?.allowHalfOpen === true,
      owner,
      backlog: mode.inbox.length > 0 ? mode.inbox : undefined,
    };
    this.#mode = accepted;
    this.#release = owner?.adoptWebSocket?.(this);
    // Frames that arrived before accept() are delivered after the caller's synchronous code,
    // so listeners added right after accept() see them.
    if (accepted.backlog)
      queueMicrotask(() => runOutsideObject(() => this.#drainBacklog(accepted)));
  }

  /**
   * Sends a message to the other end. Sent after a storage write, it leaves only once that
   * write is durable (the output gate), in order with the socket's other messages.
   */
  send(message: string | ArrayBuffer | ArrayBufferView): void {
    if (this.#closedOutgoing) throw new TypeError("Can't call WebSocket send() after close().");
    const kind = this.#mode.kind;
    if (this.#outgoingAborted || kind === "coupled") return;
    if (kind === "pending") throw notAccepted();
    this.#enqueue({ kind: "message", data: toMessageData(message) }, gate());
  }

  /**
   * Sends a close frame. Codes 1005, 1006 and 1015 are reserved (InvalidAccessError); a reason
   * needs a code and at most 123 bytes. Closing a closed socket does nothing.
   */
  close(code?: number, reason?: string): void {
    const kind = this.#mode.kind;
    if (this.#closedOutgoing || this.#outgoingAborted || kind === "coupled") return;
    if (kind === "pending") throw notAccepted();
    if (this.#error) throw this.#error;
    if (code !== undefined) {
      code = Number(code);
      if (!isSendableCloseCode(code)) throw invalidCloseCode(code);
    }
    let text = "";
    if (reason !== undefined) {
      if (code === undefined) {
        throw new TypeError(
          "If you specify a WebSocket close reason, you must also specify a code.",
        );
      }
      text = String(reason);
      const bytes = utf8Length(text, MAX_CLOSE_REASON_BYTES);
      if (bytes > MAX_CLOSE_REASON_BYTES) throw closeReasonTooLong(bytes);
    }
    this.#closedOutgoing = true;
    this.#enqueue({ kind: "close", code: code ?? CLOSE_CODES.noStatus, reason: text }, gate());
    this.#checkFinished();
  }

  /**
   * Keeps a structured-clone copy of `value` with the socket; it survives hibernation. Call it
   * again after changing the value. At most 16 KiB serialized.
   */
  serializeAttachment(value: unknown): void {
    const bytes = serializeValue(value);
    if (bytes.byteLength > MAX_ATTACHMENT_BYTES) throw attachmentTooLarge(bytes.byteLength);
    this.#attachment = bytes;
  }

  /** A copy of the value last given to `serializeAttachment()`, or null. */
  deserializeAttachment(): any {
    return this.#attachment === undefined ? null : deserializeValue(this.#attachment);
  }

  #internals(): WebSocketInternals {
    const socket = this;
    return {
      get mode() {
        return socket.#mode.kind;
      },
      get closedOutgoing() {
        return socket.#closedOutgoing;
      },
      get peerPending() {
        return socket.#peer !== undefined && socket.#peer.#mode.kind === "pending";
      },
      acceptHibernatable: (sink) => this.#acceptHibernatable(sink),
      couple: () => this.#couple(),
      sendFromRuntime: (text) => {
        if (!this.#closedOutgoing && !this.#outgoingAborted) {
          this.#enqueue({ kind: "message", data: text }, undefined);
        }
      },
      closeByRuntime: (code, reason) => this.#closeByRuntime(code, reason),
      abort: () => this.#abort(),
    };
  }

  #acceptHibernatable(sink: HibernationSink): void {
    const mode = this.#mode;
    if (mode.kind !== "pending") {
      throw new Error(
        "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`",
      );
    }
    if (this.#peer === undefined || this.#peer.#mode.kind !== "pending") {
      throw new Error(
        "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already been accepted or used in a Response.",
      );
    }
    const hibernatable: Mode = {
      kind: "hibernatable",
      sink,
      backlog: mode.inbox.length > 0 ? mode.inbox : undefined,
    };
    this.#mode = hibernatable;
    if (hibernatable.backlog) {
      queueMicrotask(() => runOutsideObject(() => this.#drainBacklog(hibernatable)));
    }
  }

  #couple(): Coupling {
    const mode = this.#mode;
    switch (mode.kind) {
      case "coupled":
        throw new TypeError("Can't return WebSocket that was already used in a response.");
      case "accepted":
        throw new TypeError("Can't return WebSocket in a Response after calling accept().");
      case "hibernatable":
        throw new TypeError(
          "Can't return WebSocket in a Response after calling acceptWebSocket().",
        );
    }
    const coupled: Extract<Mode, { kind: "coupled" }> = {
      kind: "coupled",
      transport: undefined,
      inbox: mode.inbox,
    };
    this.#mode = coupled;
    const network: NetworkEvents = {
      message: (data) => this.#enqueue({ kind: "message", data }, undefined),
      close: (code, reason) => this.#enqueue({ kind: "close", code, reason }, undefined),
      disconnect: () => this.#enqueue({ kind: "disconnect" }, undefined),
      error: (error) => this.#enqueue({ kind: "error", error }, undefined),
    };
    return {
      attach: (transport) => {
        coupled.transport = transport;
        for (const frame of coupled.inbox.splice(0)) forward(transport, frame);
        return network;
      },
      fail: () => network.disconnect(),
    };
  }

  /** A frame arrived from the other end. */
  #receive(frame: Frame): void {
    const mode = this.#mode;
    switch (mode.kind) {
      case "pending":
        mode.inbox.push(frame);
        return;
      case "coupled":
        if (mode.transport) forward(mode.transport, frame);
        else mode.inbox.push(frame);
        return;
      case "accepted":
      case "hibernatable":
        if (mode.backlog) mode.backlog.push(frame);
        else this.#handle(frame);
    }
  }

  #drainBacklog(mode: Extract<Mode, { backlog: Frame[] | undefined }>): void {
    const backlog = mode.backlog;
    if (!backlog) return;
    // Frames arriving while draining join the end of the backlog, so order holds.
    for (let i = 0; i < backlog.length; i++) this.#handle(backlog[i]!);
    mode.backlog = undefined;
  }

  /** Takes a received frame in an accepted end: updates the state, then delivers it. */
  #handle(frame: Frame): void {
    if (this.#error || this.#closedIncoming) return;
    const mode = this.#mode;
    if (frame.kind === "message" && messageBytes(frame.data) > MAX_RECEIVED_MESSAGE_BYTES) {
      frame = { kind: "error", error: messageTooLarge(messageBytes(frame.data)) };
      if (!this.#closedOutgoing) {
        this.#closedOutgoing = true;
        this.#enqueue({ kind: "close", code: CLOSE_CODES.tooBig, reason: "Message is too large" });
      }
    }
    switch (frame.kind) {
      case "message":
        break;
      case "close":
        this.#closedIncoming = true;
        if (mode.kind === "accepted" && !mode.allowHalfOpen && !this.#closedOutgoing) {
          // Answer the close (web_socket_auto_reply_to_close): CLOSED before the close event.
          this.#closedOutgoing = true;
          this.#enqueue({ kind: "close", code: frame.code, reason: frame.reason });
        }
        break;
      case "disconnect":
        this.#closedIncoming = true;
        this.#outgoingAborted = true;
        break;
      case "error":
        this.#error = frame.error;
        this.#closedIncoming = true;
        this.#outgoingAborted = true;
        break;
    }
    if (mode.kind === "hibernatable") mode.sink.received(this, frame);
    else if (mode.kind === "accepted") this.#emit(mode.owner, frame);
    this.#checkFinished();
  }

  /** Fires the event of `frame`, as an event of the object that accepted the socket. */
  #emit(owner: ObjectContext | undefined, frame: Frame): void {
    const fire = () => {
      this.dispatchEvent(frameEvent(frame, this.binaryType));
    };
    if (owner === undefined) fire();
    // Through the object's queue and input gate, like any other event; dropped once it reset.
    else owner.deliver(fire).catch(() => {});
  }

  #enqueue(frame: Frame, held?: Promise<void>): void {
    this.#outgoing.push(frame, held);
  }

  #closeByRuntime(code: number, reason: string): void {
    this.#outgoing.discard();
    const alreadyClosed = this.#closedOutgoing || this.#outgoingAborted;
    this.#closedOutgoing = true;
    this.#closedIncoming = true;
    const mode = this.#mode;
    if (mode.kind === "accepted" || mode.kind === "hibernatable") mode.backlog = undefined;
    if (!alreadyClosed) this.#enqueue({ kind: "close", code, reason });
    this.#checkFinished();
  }

  #abort(): void {
    if (this.#outgoingAborted) return;
    this.#outgoingAborted = true;
    this.#closedIncoming = true;
    this.#closedOutgoing = true;
    this.#enqueue({ kind: "disconnect" });
    this.#checkFinished();
  }

  #checkFinished(): void {
    if (!this.#closedIncoming || !(this.#closedOutgoing || this.#outgoingAborted)) return;
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }
}

/** The output gate of the object running now, if it holds anything. */
function gate(): Promise<void> | undefined {
  return currentObject()?.outputGate.wait();
}

function notAccepted(): TypeError {
  return new TypeError(
    "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages.",
  );
}
