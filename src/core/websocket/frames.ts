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
