import { type WebSocket, webSocketInternals } from "./web-socket.ts";

const NATIVE = Symbol.for("stead.nativeResponse");
const global = globalThis as unknown as Record<symbol, typeof globalThis.Response | undefined>;
/** Node's own Response, even if a copy of this module already replaced the global. */
const NativeResponse: typeof globalThis.Response = (global[NATIVE] ??= globalThis.Response);

/** `ResponseInit` plus Cloudflare's `webSocket`. */
export interface WebSocketResponseInit extends ResponseInit {
  webSocket?: WebSocket | null;
}

/** Cloudflare's `Content-Type` for a string body, and `Response.json`'s. */
const TEXT_TYPE = "text/plain;charset=UTF-8";
const JSON_TYPE = "application/json";

/** A body `Response.json` made: text with JSON's Content-Type (only this module makes one). */
class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** The body of a response that `takeBody` took: sent, so it reads as used. */
const TAKEN = Symbol("taken");

/** A body kept as it was given until something reads it: text, or a copy of the bytes. */
type HeldBody = string | Uint8Array<ArrayBuffer>;

// Set by Response's static block (they reach its private fields): see `takeBody`, and the
// Node Response holding a string or bytes body once it was asked for (`#held`; undefined for a
// response whose body is Node's own).
let takeHeld: (response: globalThis.Response) => HeldBody | undefined;
let heldOf: (response: Response) => globalThis.Response | undefined;

/**
 * The global `Response` in Stead: Node's, plus Cloudflare's `webSocket`, so a Worker can answer
 * an upgrade with `new Response(null, { status: 101, webSocket: client })`. Everything else is
 * Node's Response; `instanceof` holds both ways (Node's own responses, such as those of
 * `fetch()` and `Response.error()`, are instances of this class too).
 *
 * A string body (`new Response("text")`, `Response.json(value)`) is kept as the string until
 * something reads the body, and a bytes body (an `ArrayBuffer` or a view of one) as a copy of its
 * bytes (the copy Node makes too): Node builds a ReadableStream for every body when the Response
 * is made, which was a tenth of the CPU of a small request. The body's members (`body`,
 * `text()`, `clone()`...) make that stream on first use, so they behave exactly as Node's; the
 * HTTP server sends the string or bytes itself (`takeBody`) when nothing touched the body.
 */
export class Response extends NativeResponse {
  readonly #webSocket: WebSocket | null;
  /** The body not yet made into a stream, or `TAKEN` once sent without one. */
  #kept: HeldBody | typeof TAKEN | undefined;
  /** Node's Response holding the body once it was asked for (this one was made without one). */
  #inner: globalThis.Response | undefined;

  constructor(body?: BodyInit | null, init?: WebSocketResponseInit | globalThis.Response) {
    const webSocket = (init as WebSocketResponseInit | undefined)?.webSocket ?? null;
    if (webSocket === null) {
      const status = init?.status;
      if (typeof status === "number" && !(status >= 200 && status <= 599)) {
        throw new RangeError(
          "Responses may only be constructed with status codes in the range 200 to 599, inclusive.",
        );
      }
      const json = body instanceof JsonText;
      if ((typeof body === "string" || json) && mayHaveBody(status)) {
        // Node's own checks of `init` run as they would; only the body waits.
        super(null, init);
        this.#webSocket = null;
        this.#kept = json ? body.text : body;
        const headers = super.headers;
        if (!headers.has("content-type")) headers.set("content-type", json ? JSON_TYPE : TEXT_TYPE);
        return;
      }
      const bytes = plainBytes(body);
      if (bytes !== undefined && mayHaveBody(status)) {
        super(null, init);
        this.#webSocket = null;
        // Copied now, as Node copies: a later change to the caller's buffer is not the body's.
        this.#kept = bytes.slice();
        return;
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

  /**
   * Node's `Response.json`, made as this class: the JSON text is the body, kept as a string
   * until read. Whatever Node would throw for (no argument, a value JSON cannot hold, a status
   * that takes no body) is left to Node's own, so the errors are its.
   */
  static override json(
    data: unknown,
    init: ResponseInit | undefined = undefined,
  ): globalThis.Response {
    // `arguments`: `Response.json()` and `Response.json(undefined)` fail with different errors,
    // and `Response.json.length` stays Node's 1.
    // biome-ignore lint/complexity/noArguments: see above
    if (arguments.length === 0) return NativeResponse.json(...([] as unknown as [unknown]));
    if (!mayHaveBody(init?.status)) return NativeResponse.json(data, init);
    let text: string | undefined;
    try {
      text = JSON.stringify(data);
    } catch {
      text = undefined;
    }
    if (text === undefined) return NativeResponse.json(data, init);
    return new Response(new JsonText(text) as unknown as BodyInit, init as WebSocketResponseInit);
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

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return heldOf(this)?.body ?? super.body;
  }

  override get bodyUsed(): boolean {
    if (!(#kept in this) || this.#kept === undefined) return super.bodyUsed;
    if (this.#kept === TAKEN) return true;
    return this.#inner?.bodyUsed ?? false;
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return heldOf(this)?.arrayBuffer() ?? super.arrayBuffer();
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return heldOf(this)?.bytes() ?? super.bytes();
  }

  override text(): Promise<string> {
    return heldOf(this)?.text() ?? super.text();
  }

  override json(): Promise<unknown> {
    return heldOf(this)?.json() ?? super.json();
  }

  override blob(): Promise<Blob> {
    return typedOf(this)?.blob() ?? super.blob();
  }

  override formData(): Promise<FormData> {
    return typedOf(this)?.formData() ?? super.formData();
  }

  override clone(): globalThis.Response {
    if (#kept in this && this.#kept !== undefined) {
      if (this.#kept !== TAKEN && this.#inner === undefined) {
        // Nothing read the body yet: the copy keeps the string or bytes too (never changed).
        const copy = new Response(null, this);
        copy.#kept = this.#kept;
        return copy;
      }
      const branch = heldOf(this)!.clone(); // throws Node's error when the body was used
      return new Response(branch.body, this);
    }
    if (!(#webSocket in this) || this.#webSocket === null) return super.clone();
    return new Response(null, {
      status: 101,
      statusText: this.statusText,
      headers: this.headers,
      webSocket: this.#webSocket,
    });
  }

  /**
   * The Node Response that holds this one's string or bytes body as a stream, made on first use;
   * undefined when the body is Node's own (any other body, or a response Node made).
   */
  #held(): globalThis.Response | undefined {
    if (!(#kept in this) || this.#kept === undefined) return undefined;
    if (this.#inner === undefined) {
      if (this.#kept === TAKEN) {
        // Sent by the server already: a body that reads as used, as the stream it was is.
        this.#inner = new NativeResponse("");
        this.#inner.arrayBuffer().catch(() => {});
      } else this.#inner = new NativeResponse(this.#kept);
    }
    return this.#inner;
  }

  static {
    // Module-private doors to the private fields: statics would be visible on the global.
    takeHeld = (response) => {
      if (!(#kept in response)) return undefined;
      const held = response.#kept;
      if (held === undefined || held === TAKEN || response.#inner !== undefined) return undefined;
      response.#kept = TAKEN;
      return held;
    };
    // Guarded: Node's body members work on any Node Response, so these must too.
    heldOf = (response) => (#kept in response ? response.#held() : undefined);
  }
}

/** `heldOf` for the members whose result depends on the response's Content-Type. */
function typedOf(response: Response): globalThis.Response | undefined {
  const held = heldOf(response);
  if (held === undefined || held.bodyUsed || held.body?.locked === true) return held;
  const type = response.headers.get("content-type");
  return new NativeResponse(
    held.body,
    type === null ? undefined : { headers: { "content-type": type } },
  );
}

// Node 26's Response has `textStream()`, a body member too; older ones do not, and then neither
// does this class.
const NATIVE_TEXT_STREAM = (NativeResponse.prototype as unknown as Record<string, unknown>)
  .textStream;
if (typeof NATIVE_TEXT_STREAM === "function") {
  Object.defineProperty(Response.prototype, "textStream", {
    value: function textStream(this: Response, ...args: unknown[]) {
      return Reflect.apply(NATIVE_TEXT_STREAM, heldOf(this) ?? this, args);
    },
    writable: true,
    configurable: true,
  });
}

/**
 * The string or bytes body of `response`, taken for sending, when it was made with one that
 * nothing has read or asked for since; the response's body then reads as used, as if its stream
 * had been read. Undefined otherwise: send `response.body`. The bytes are the response's own
 * copy: the caller may keep them.
 */
export function takeBody(response: globalThis.Response): HeldBody | undefined {
  return takeHeld(response);
}

/**
 * The bytes of a body that is an `ArrayBuffer` or a view of one (not shared, resizable or
 * detached: Node's own rules for those stay Node's), as a view; undefined for any other body.
 */
function plainBytes(body: unknown): Uint8Array<ArrayBuffer> | undefined {
  const view = ArrayBuffer.isView(body);
  const buffer = view ? body.buffer : body;
  if (!(buffer instanceof ArrayBuffer) || buffer.resizable || buffer.detached) return undefined;
  return view ? new Uint8Array(buffer, body.byteOffset, body.byteLength) : new Uint8Array(buffer);
}

/**
 * Whether a response with this `init.status` may have a body: Node throws for a body with 204,
 * 205 or 304 (and for any status outside 200-599), so those are left to Node.
 */
function mayHaveBody(status: unknown): boolean {
  return (
    status === undefined ||
    (typeof status === "number" &&
      Number.isInteger(status) &&
      status >= 200 &&
      status <= 599 &&
      status !== 204 &&
      status !== 205 &&
      status !== 304)
  );
}

/** Node's Response class, which the global `Response` extends. */
export { NativeResponse };
