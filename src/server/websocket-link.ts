// Joining real WebSocket connections (the `ws` library) to the app's WebSocket ends, for the
// HTTP front and for links between cluster nodes.
import { type IncomingMessage, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { type RawData, WebSocketServer, type WebSocket as WsConnection } from "ws";
import type { Coupling, NetworkEvents } from "../core/websocket/frames.ts";
import {
  CLOSE_CODES,
  MAX_RECEIVED_MESSAGE_BYTES,
  messageTooLarge,
} from "../core/websocket/limits.ts";

/** Headers the WebSocket handshake itself decides; the Worker's values are not copied. */
const HANDSHAKE_HEADERS = new Set([
  "connection",
  "upgrade",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "content-length",
  "transfer-encoding",
  "keep-alive",
]);

/**
 * Completes the handshake of an upgrade request the app answered with `response` (101): the
 * protocol it chose and its other headers go out; `bound` gets the connection. An invalid
 * handshake is answered (400) by ws, which closes the socket without calling `bound`.
 */
export function completeHandshake(
  request: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  response: Response,
  maxPayload: number | undefined,
  bound: (connection: WsConnection) => void,
): void {
  const protocol = response.headers.get("sec-websocket-protocol");
  const server = new WebSocketServer({
    noServer: true,
    maxPayload: maxPayload ?? MAX_RECEIVED_MESSAGE_BYTES,
    perMessageDeflate: false,
    clientTracking: false,
    // Only the protocol the Worker chose is confirmed (ws would otherwise pick the first offered).
    handleProtocols: () => protocol ?? false,
  });
  server.on("headers", (lines) => {
    for (const [name, value] of response.headers) {
      if (!HANDSHAKE_HEADERS.has(name)) lines.push(`${name}: ${value}`);
    }
  });
  server.handleUpgrade(request, socket, head, bound);
}

/**
 * Joins a completed `ws` connection to a WebSocket end's coupling. `dropped`: the close the end
 * sees when the connection drops without a close handshake (default: a drop, 1006).
 */
export function bindWebSocket(
  connection: WsConnection,
  coupling: Coupling,
  dropped?: { code: number; reason: string },
): void {
  connection.binaryType = "arraybuffer";
  const events: NetworkEvents = coupling.attach({
    send: (data) => connection.send(data),
    close: (code, reason) => {
      try {
        if (code === CLOSE_CODES.noStatus) connection.close();
        else connection.close(code, reason);
      } catch {
        connection.terminate();
      }
    },
    terminate: () => connection.terminate(),
  });
  connection.on("message", (data: RawData, isBinary: boolean) => {
    const bytes = data as ArrayBuffer;
    events.message(isBinary ? bytes : Buffer.from(bytes).toString("utf8"));
  });
  connection.on("close", (code: number, reason: Buffer) => {
    if (code !== CLOSE_CODES.abnormal) events.close(code, reason.toString("utf8"));
    else if (dropped === undefined) events.disconnect();
    else events.close(dropped.code, dropped.reason);
  });
  connection.on("error", (error: Error & { code?: string }) => {
    events.error(error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? messageTooLarge() : error);
  });
}

/** Writes a non-upgrade answer on the raw socket: close-delimited body, then the socket ends. */
export async function writePlainResponse(socket: Duplex, response: Response): Promise<void> {
  const reason = response.statusText || STATUS_CODES[response.status] || "Response";
  let head = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== "connection" && name !== "transfer-encoding" && name !== "keep-alive") {
      head += `${name}: ${value}\r\n`;
    }
  }
  head += "Connection: close\r\n\r\n";
  socket.write(head);
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (chunk === undefined || chunk.done) break;
    if (socket.destroyed) {
      await reader!.cancel().catch(() => {});
      return;
    }
    if (!socket.write(chunk.value)) {
      await new Promise<void>((resolve) => {
        socket.once("drain", resolve);
        socket.once("close", resolve);
      });
    }
  }
  socket.end();
}
