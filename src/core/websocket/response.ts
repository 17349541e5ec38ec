import { type WebSocket, webSocketInternals } from "./web-socket.ts";

const NATIVE = Symbol.for("stead.nativeResponse");
const global = globalThis as unknown as Record<symbol, typeof globalThis.Response | undefined>;
/** Node's own Response, even if a copy of this module already replaced the global. */
const NativeResponse: typeof globalThis.Response = (global[NATIVE] ??= globalThis.Response);

/** `ResponseInit` plus Cloudflare's `webSocket`. */
export interface WebSocketResponseInit extends ResponseInit {
  webSocket?: WebSocket | null;
}

/**
 * The global `Response` in Stead: Node's, plus Cloudflare's `webSocket`, so a Worker can answer
 * an upgrade with `new Response(null, { status: 101, webSocket: client })`. Everything else is
 * Node's Response; `instanceof` holds both ways (Node's own responses, such as those of
 * `fetch()` and `Response.json()`, are instances of this class too).
 */
export class Response extends NativeResponse {
  readonly #webSocket: WebSocket | null;

  constructor(body?: BodyInit | null, init?: WebSocketResponseInit | globalThis.Response) {
    const webSocket = (init as WebSocketResponseInit | undefined)?.webSocket ?? null;
    if (webSocket === null) {
      const status = init?.status;
      if (typeof status === "number" && !(status >= 200 && status <= 599)) {
        throw new RangeError(
          "Responses may only be constructed with status codes in the range 200 to 599, inclusive.",
        );
      }
      super(body, init);
      this.#webSocket = null;
      return;
    }
    if (webSocketInternals(webSocket) === undefined) {
      throw new TypeError(
        "Failed to construct 'Response': webSocket must be a WebSocket from new WebSocketPair().",
      );
    }
    if (init?.status !== 101) {
      throw new RangeError("Responses with a WebSocket must have status code 101.");
    }
    // Node refuses status 101; the response is built as 200 and reports 101.
    super(body, { status: 200, statusText: init.statusText, headers: init.headers });
    this.#webSocket = webSocket;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return value instanceof NativeResponse;
  }

  /** The client end of a WebSocketPair this 101 response hands to the client, or null. */
  override get webSocket(): globalThis.WebSocket | null {
    return #webSocket in this ? (this.#webSocket as unknown as globalThis.WebSocket | null) : null;
  }

  override get status(): number {
    return #webSocket in this && this.#webSocket !== null ? 101 : super.status;
  }

  override get ok(): boolean {
    return #webSocket in this && this.#webSocket !== null ? false : super.ok;
  }

  override clone(): globalThis.Response {
    if (!(#webSocket in this) || this.#webSocket === null) return super.clone();
    return new Response(null, {
      status: 101,
      statusText: this.statusText,
      headers: this.headers,
      webSocket: this.#webSocket,
    });
  }
}

/** Node's Response class, which the global `Response` extends. */
export { NativeResponse };
