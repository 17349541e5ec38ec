/**
 * The WebSocket globals Cloudflare Workers have: the Workers `WebSocket` class (with
 * `READY_STATE_*` statics and the prototype methods libraries call as
 * `WebSocket.prototype.deserializeAttachment.call(ws)`), `WebSocketPair`,
 * `WebSocketRequestResponsePair`, and a `Response` that accepts `{ status: 101, webSocket }`.
 */
import { WebSocketRequestResponsePair as SteadRequestResponsePair } from "./request-response-pair.ts";
import { Response as SteadResponse } from "./response.ts";
import { WebSocket as SteadWebSocket } from "./web-socket.ts";
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

/** The values installed, by global name. */
export const WEB_SOCKET_GLOBALS: Readonly<Record<string, unknown>> = {
  WebSocket: SteadWebSocket,
  WebSocketPair: SteadWebSocketPair,
  WebSocketRequestResponsePair: SteadRequestResponsePair,
  Response: SteadResponse,
};
