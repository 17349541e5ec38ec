import type { IncomingMessage } from "node:http";

/** How much of the request body is read ahead of the Worker before reading pauses. */
const READ_AHEAD_BYTES = 64 * 1024;

/** The error a Worker sees when reading a request body the client cut short. */
const CLIENT_DISCONNECTED = "The client disconnected before sending the whole request body.";

/** The error a Worker sees when reading a request body after its response has ended. */
const RESPONSE_ENDED = "The response has ended; the rest of the request body was discarded.";

/** A request body being read from its socket. */
export interface RequestBody {
  /** The body for the Worker's Request. */
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Call this when the response has ended: the rest of the body is read and dropped (still
   * counted against the limit), so a keep-alive connection can carry its next request.
   */
  discard(): void;
}

/**
 * The body of `req` as a byte stream, read from the socket only as fast as the Worker consumes
 * it (the socket is paused while the read-ahead is full), so a large upload is never held whole
 * in memory. Every byte counts against `maxBytes`; past it the stream errors and `onTooLarge`
 * is called once.
 */
export function readRequestBody(
  req: IncomingMessage,
  maxBytes: number,
  onTooLarge: () => void,
): RequestBody {
  let controller!: ReadableByteStreamController;
  // Set once the Worker no longer gets data: it cancelled, or the stream settled.
  let detached = false;
  let received = 0;
  const detach = () => {
    detached = true;
    req.resume();
  };
  req.pause();
  req.on("data", (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received > maxBytes) {
      req.removeAllListeners("data");
      if (!detached) {
        detached = true;
        controller.error(
          new RangeError(`The request body exceeds this server's limit of ${maxBytes} bytes.`),
        );
      }
      onTooLarge();
      return;
    }
    if (detached) return;
    // A copy: enqueueing into a byte stream transfers the buffer, and Node's chunk may share its
    // ArrayBuffer with other chunks read from the socket at the same time.
    controller.enqueue(new Uint8Array(chunk));
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  });
  req.once("end", () => {
    if (detached) return;
    detached = true;
    controller.close();
    // A BYOB read pending at the end completes only when answered with an empty view.
    controller.byobRequest?.respond(0);
  });
  req.once("close", () => {
    if (detached || req.complete) return;
    detached = true;
    controller.error(new TypeError(CLIENT_DISCONNECTED));
  });
  // The stream reports a broken upload; without a listener Node would not emit it anyway.
  req.on("error", () => {});
  const stream = new ReadableStream(
    {
      type: "bytes",
      start(c) {
        controller = c;
      },
      pull() {
        req.resume();
      },
      cancel: detach,
    },
    { highWaterMark: READ_AHEAD_BYTES },
  );
  return {
    stream,
    discard() {
      if (req.complete) return;
      if (!detached) controller.error(new TypeError(RESPONSE_ENDED));
      detach();
    },
  };
}

/**
 * Reads and drops a body no stream is made for (a Request for GET or HEAD cannot carry one),
 * counting it against `maxBytes` and calling `onTooLarge` once past it.
 */
export function discardRequestBody(req: IncomingMessage, maxBytes: number, onTooLarge: () => void) {
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.byteLength;
    if (received <= maxBytes) return;
    req.off("data", count);
    onTooLarge();
  };
  req.on("data", count);
}
