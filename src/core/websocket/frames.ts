import {
  CLOSE_CODES,
  DISCONNECTED_REASON,
  MAX_RECEIVED_MESSAGE_BYTES,
  utf8Length,
} from "./limits.ts";

/** What travels between the two ends of a WebSocket pair, and between an end and the network. */
export type Frame =
  /** A text (string) or binary (ArrayBuffer) message. */
  | { readonly kind: "message"; readonly data: string | ArrayBuffer }
  /** A close frame; code 1005 means the frame carried no code. */
  | { readonly kind: "close"; readonly code: number; readonly reason: string }
  /** The other side went away without a close frame. */
  | { readonly kind: "disconnect" }
  /** The connection failed (for example a message over the size limit). */
  | { readonly kind: "error"; readonly error: Error };

/**
 * The network side of a WebSocket end that a server connected to a real connection. The server
 * adapts its socket library to this; `core` never imports one.
 */
export interface WebSocketTransport {
  /** Sends a message to the remote client. */
  send(data: string | ArrayBuffer): void;
  /** Sends a close frame (`code` 1005: a frame with no code) and closes once it is answered. */
  close(code: number, reason: string): void;
  /** Drops the connection without a close frame. */
  terminate(): void;
}

/** How the server reports what the remote client did, once a transport is attached. */
export interface NetworkEvents {
  /** The client sent a message. */
  message(data: string | ArrayBuffer): void;
  /** The client's close frame arrived (the close handshake completed). */
  close(code: number, reason: string): void;
  /** The connection dropped without a close handshake. */
  disconnect(): void;
  /** The connection failed, for example on a message over the size limit. */
  error(error: Error): void;
}

/** A WebSocket end handed to the network: returned in a 101 response, now owned by the server. */
export interface Coupling {
  /** Connects the real connection; messages the app sent before this go out now, in order. */
  attach(transport: WebSocketTransport): NetworkEvents;
  /** The handshake failed: the app's end sees the connection drop. */
  fail(): void;
}

/** Passes a frame from the app's end to the network. */
export function forward(transport: WebSocketTransport, frame: Frame): void {
  switch (frame.kind) {
    case "message":
      transport.send(frame.data);
      return;
    case "close":
      transport.close(frame.code, frame.reason);
      return;
    default:
      transport.terminate();
  }
}

/** The event an accepted end fires for a received frame (binary data as `binaryType` says). */
export function frameEvent(frame: Frame, binaryType: "arraybuffer" | "blob"): Event {
  switch (frame.kind) {
    case "message": {
      const data = frame.data;
      return new MessageEvent("message", {
        data: typeof data === "string" || binaryType !== "blob" ? data : new Blob([data]),
      });
    }
    case "close":
      return new CloseEvent("close", { code: frame.code, reason: frame.reason, wasClean: true });
    case "disconnect":
      return new CloseEvent("close", {
        code: CLOSE_CODES.abnormal,
        reason: DISCONNECTED_REASON,
        wasClean: false,
      });
    case "error":
      return new ErrorEvent("error", { message: frame.error.message, error: frame.error });
  }
}

/** What `send()` puts in a message frame: the string, or a copy of the bytes. */
export function toMessageData(message: unknown): string | ArrayBuffer {
  if (typeof message === "string") return message;
  if (message instanceof ArrayBuffer) return message.slice(0);
  if (ArrayBuffer.isView(message)) {
    const copy = new Uint8Array(message.byteLength);
    copy.set(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
    return copy.buffer;
  }
  return String(message);
}

/** A message's size in bytes (strings as UTF-8, counted only up to the receive limit). */
export function messageBytes(data: string | ArrayBuffer): number {
  return typeof data === "string" ? utf8Length(data, MAX_RECEIVED_MESSAGE_BYTES) : data.byteLength;
}
