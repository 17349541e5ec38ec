import { createPair, type WebSocket } from "./web-socket.ts";

/**
 * Two connected WebSockets: what one end sends, the other receives. `0` is the client end (return
 * it in a 101 response), `1` the server end (accept it).
 *
 * @example
 * const [client, server] = Object.values(new WebSocketPair());
 * ctx.acceptWebSocket(server);
 * return new Response(null, { status: 101, webSocket: client });
 */
export class WebSocketPair {
  readonly 0: WebSocket;
  readonly 1: WebSocket;

  constructor() {
    const [client, server] = createPair();
    this[0] = client;
    this[1] = server;
  }

  *[Symbol.iterator](): IterableIterator<WebSocket> {
    yield this[0];
    yield this[1];
  }
}
