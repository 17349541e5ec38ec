/**
 * Installs the WebSocket globals Cloudflare Workers have: `WebSocketPair`,
 * `WebSocketRequestResponsePair`, and a `Response` that accepts `{ status: 101, webSocket }`.
 * Imported for its effect by the `stead` and `cloudflare:workers` modules; idempotent.
 */
import { WebSocketRequestResponsePair as SteadRequestResponsePair } from "./request-response-pair.ts";
import { Response as SteadResponse } from "./response.ts";
import type { WebSocket as SteadWebSocket } from "./web-socket.ts";
import { WebSocketPair as SteadWebSocketPair } from "./web-socket-pair.ts";

declare global {
  /** Cloudflare's additions to the WebSocket of a `WebSocketPair`. */
  interface WebSocket {
    accept(options?: { allowHalfOpen?: boolean }): void;
    serializeAttachment(value: unknown): void;
    deserializeAttachment(): any;
  }
  interface ResponseInit {
    webSocket?: WebSocket | SteadWebSocket | null;
  }
  interface Response {
    readonly webSocket: WebSocket | null;
  }
  var WebSocketPair: {
    new (): { 0: WebSocket; 1: WebSocket } & Iterable<WebSocket>;
    prototype: object;
  };
  var WebSocketRequestResponsePair: typeof import("./request-response-pair.ts").WebSocketRequestResponsePair;
}

const INSTALLED = Symbol.for("stead.webSocketGlobals");
const target = globalThis as unknown as Record<PropertyKey, unknown>;

if (target[INSTALLED] !== true) {
  for (const [name, value] of Object.entries({
    WebSocketPair: SteadWebSocketPair,
    WebSocketRequestResponsePair: SteadRequestResponsePair,
    Response: SteadResponse,
  })) {
    Object.defineProperty(globalThis, name, { value, writable: true, configurable: true });
  }
  target[INSTALLED] = true;
}
