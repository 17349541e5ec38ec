/**
 * Cloudflare's documented WebSocket limits, and the errors their checks throw (workerd's texts,
 * `src/workerd/api/web-socket.c++`, `actor-state.c++`, `hibernation-manager.c++`).
 */

/** Largest message a WebSocket receives (32 MiB); larger ones close the socket with 1009. */
export const MAX_RECEIVED_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Largest serialized attachment (workerd's `MAX_ATTACHMENT_SIZE`, 16 KiB; older docs: 2,048). */
export const MAX_ATTACHMENT_BYTES = 16 * 1024;
/** Hibernatable WebSockets one object may hold. */
export const MAX_HIBERNATABLE_SOCKETS = 32_768;
/** Tags per hibernatable WebSocket. */
export const MAX_TAGS = 10;
/** Characters per tag. */
export const MAX_TAG_LENGTH = 256;
/** Bytes of the auto-response request and of its response. */
export const MAX_AUTO_RESPONSE_BYTES = 2048;
/** Longest hibernatable WebSocket event timeout (7 days). */
export const MAX_EVENT_TIMEOUT_MS = 604_800_000;
/** A close frame's reason, in UTF-8 bytes (RFC 6455: 125-byte payload minus the code). */
export const MAX_CLOSE_REASON_BYTES = 123;

/** Close codes the runtime itself uses. */
export const CLOSE_CODES = {
  /** No status in the close frame (never sent; reported when the peer sent none). */
  noStatus: 1005,
  /** The connection dropped without a close frame (never sent). */
  abnormal: 1006,
  /** A received message exceeded the size limit. */
  tooBig: 1009,
  /** The object was reset (abort, failed write, blockConcurrencyWhile failure). */
  internalError: 1011,
  /** The runtime is shutting down or restarting (dispose, code update). */
  serviceRestart: 1012,
} as const;

/** The close event reason a dropped connection reports (workerd's text). */
export const DISCONNECTED_REASON = "WebSocket disconnected without sending Close frame.";

/** True for codes an endpoint may send (1000, 1001-1003, 1007-1014, 3000-4999, ...). */
export function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    code >= 1000 &&
    code < 5000 &&
    code !== 1004 &&
    code !== 1005 &&
    code !== 1006 &&
    code !== 1015
  );
}

export function invalidCloseCode(code: unknown): DOMException {
  return new DOMException(`Invalid WebSocket close code: ${String(code)}.`, "InvalidAccessError");
}

export function closeReasonTooLong(bytes: number): DOMException {
  return new DOMException(
    `The WebSocket close reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8; it is ${bytes} bytes. Shorten the reason.`,
    "SyntaxError",
  );
}

export function attachmentTooLarge(bytes: number): Error {
  return new Error(
    `A WebSocket 'attachment' cannot be larger than ${MAX_ATTACHMENT_BYTES} bytes.'attachment' was ${bytes} bytes.`,
  );
}

/** The error a socket reports when it receives a message over the limit (then closes, 1009). */
export function messageTooLarge(bytes?: number): RangeError {
  const size = bytes === undefined ? "over the limit" : `of ${bytes} bytes`;
  return new RangeError(
    `Message is too large: the WebSocket received a message ${size}; the limit is ${MAX_RECEIVED_MESSAGE_BYTES} bytes (32 MiB). The socket was closed with code 1009.`,
  );
}

/**
 * Bytes of `text` in UTF-8, computed only when it could matter: when the text cannot exceed
 * `limit` whatever its characters, a number not over `limit` is returned without counting.
 */
export function utf8Length(text: string, limit = 0): number {
  if (text.length * 3 <= limit) return text.length;
  return Buffer.byteLength(text, "utf8");
}
