import type { Server } from "node:http";
import type { Duplex } from "node:stream";
import { describeError } from "../core/error-text.ts";
import type { Connections } from "./connections.ts";
import {
  badRequestReply,
  type ErrorReply,
  headersTooLargeReply,
  rawReply,
  requestTimeoutReply,
} from "./error-reply.ts";
import { newRequestId } from "./request-id.ts";
import type { RequestLogSink } from "./request-log.ts";

/** A parse or timeout error Node reports for a connection (`'clientError'`). */
type ClientError = NodeJS.ErrnoException & { reason?: string };

/**
 * Answers what Node's parser rejects (`'clientError'`): between requests with 400, 408 or 431
 * and a close; while a request is being served, through that request (`Connections.failed`),
 * since only it may answer without corrupting a response being written: a chunked body found
 * malformed after the Worker started reading fails the Worker's read and gets a 400 if no
 * response was sent yet. Anything else cuts the connection.
 */
export function answerClientErrors(
  server: Server,
  options: { connections: Connections; log: RequestLogSink; maxHeaderBytes: number },
): void {
  const { connections, log, maxHeaderBytes } = options;
  const answer = (reply: ErrorReply, socket: Duplex, error: unknown) => {
    socket.end(rawReply(reply));
    log({
      requestId: newRequestId(),
      method: "",
      path: "",
      status: reply.status,
      durationMs: 0,
      bytes: 0,
      error: describeError(error),
    });
  };
  server.on("clientError", (error: ClientError, socket: Duplex) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
    } else if (connections.busy(socket)) {
      if (!failRequest(connections, socket, error)) socket.destroy();
    } else if (error.code === "HPE_HEADER_OVERFLOW") {
      answer(headersTooLargeReply(maxHeaderBytes), socket, error.code);
    } else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
      answer(requestTimeoutReply(), socket, error.code);
    } else {
      const reason = error.reason ?? error.message;
      answer(badRequestReply(`malformed HTTP request (${reason})`), socket, error.code ?? reason);
    }
  });
}

/** Hands `error` to the request being served on `socket`; false if it is not one for it. */
function failRequest(connections: Connections, socket: Duplex, error: ClientError): boolean {
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    const reason = "the whole request was not received in time";
    return connections.failed(
      socket,
      reason,
      requestTimeoutReply(),
      new TypeError(`The client did not send the whole request body in time.`),
    );
  }
  // HPE_INVALID_EOF_STATE: the client closed its side mid-body, a disconnect the body reports.
  if (error.code?.startsWith("HPE_") !== true || error.code === "HPE_INVALID_EOF_STATE") {
    return false;
  }
  const detail = error.reason ?? error.message;
  const reason = `malformed request body: ${detail} (${error.code})`;
  return connections.failed(
    socket,
    reason,
    badRequestReply(`malformed request body (${detail})`),
    new TypeError(`The request body is malformed: ${detail}.`),
  );
}
