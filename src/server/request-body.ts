import type { IncomingMessage } from "node:http";

/** How much of the request body is read ahead of the Worker before reading pauses. */
const READ_AHEAD_BYTES = 64 * 1024;

/** The error a Worker sees when reading a request body the client cut short. */
const CLIENT_DISCONNECTED = "The client disconnected before sending the whole request body.";

/** The error a Worker sees when reading a request body after its response has ended. */
const RESPONSE_ENDED = "The response has ended; the rest of the request body was discarded.";

/** Limits on one request body. */
export interface BodyLimits {
  /** Bytes the body may have; past it `onLimit("size")` is called once. */
  readonly maxBytes: number;
  /**
   * Time the body may go without a byte while the server is reading it (not while the Worker
   * holds reading back); past it `onLimit("idle")` is called once. 0 turns it off.
   */
  readonly idleTimeoutMs: number;
}

/** Which limit a body hit. */
export type BodyLimit = "size" | "idle";

/** A request body being read from its socket. */
export interface RequestBody {
  /** The body for the Worker's Request. */
  readonly stream: ReadableStream<Uint8Array>;
  /**
   * Call this when the response has ended: the rest of the body is read and dropped (still
   * counted against the limits), so a keep-alive connection can carry its next request.
   */
  discard(): void;
  /** Fails the Worker's reads with `error`, unless the body already ended or failed. */
  fail(error: Error): void;
}

/**
 * The body of `req` as a byte stream, read from the socket only as fast as the Worker consumes
 * it (the socket is paused while the read-ahead is full), so a large upload is never held whole
 * in memory. Every byte counts against the limits; past one, `onLimit` is called once, and the
 * caller fails the stream (`fail`) and answers.
 */
export function readRequestBody(
  req: IncomingMessage,
  limits: BodyLimits,
  onLimit: (limit: BodyLimit) => void,
): RequestBody {
  let controller!: ReadableByteStreamController;
  // Set once the Worker no longer gets data: it cancelled, or the stream settled.
  let detached = false;
  let received = 0;
  const idle = idleTimer(req, limits.idleTimeoutMs, () => onLimit("idle"));
  const detach = () => {
    detached = true;
    idle.resume();
  };
  idle.pause();
  req.on("data", (chunk: Buffer) => {
    idle.touch();
    received += chunk.byteLength;
    if (received > limits.maxBytes) {
      req.removeAllListeners("data");
      idle.stop();
      onLimit("size");
      return;
    }
    if (detached) return;
    // A copy: enqueueing into a byte stream transfers the buffer, and Node's chunk may share its
    // ArrayBuffer with other chunks read from the socket at the same time.
    controller.enqueue(new Uint8Array(chunk));
    if ((controller.desiredSize ?? 0) <= 0) idle.pause();
  });
  req.once("end", () => {
    idle.stop();
    if (detached) return;
    detached = true;
    controller.close();
    // A BYOB read pending at the end completes only when answered with an empty view.
    controller.byobRequest?.respond(0);
  });
  req.once("close", () => {
    idle.stop();
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
        idle.resume();
      },
      cancel: detach,
    },
    { highWaterMark: READ_AHEAD_BYTES },
  );
  const fail = (error: Error) => {
    if (detached) return;
    detached = true;
    controller.error(error);
  };
  return {
    stream,
    discard() {
      if (req.complete) return;
      fail(new TypeError(RESPONSE_ENDED));
      detach();
    },
    fail,
  };
}

/**
 * Reads and drops a body no stream is made for (a Request for GET or HEAD cannot carry one),
 * counting it against the limits and calling `onLimit` once past one.
 */
export function discardRequestBody(
  req: IncomingMessage,
  limits: BodyLimits,
  onLimit: (limit: BodyLimit) => void,
): void {
  let received = 0;
  const idle = idleTimer(req, limits.idleTimeoutMs, () => onLimit("idle"));
  const count = (chunk: Buffer) => {
    idle.touch();
    received += chunk.byteLength;
    if (received <= limits.maxBytes) return;
    req.off("data", count);
    idle.stop();
    onLimit("size");
  };
  req.on("data", count);
  req.once("close", () => idle.stop());
}

/**
 * Reading `req`, paused and resumed together with a timer that fires `onIdle` once when no byte
 * arrived for `ms` while reading was on. Only the client's silence counts: while the Worker holds
 * reading back (`pause`), the clock stops.
 */
function idleTimer(req: IncomingMessage, ms: number, onIdle: () => void) {
  let reading = true;
  let stopped = ms === 0;
  const timer = stopped
    ? undefined
    : setTimeout(() => {
        // Fired while paused: `resume` restarts it.
        if (!reading || stopped) return;
        stopped = true;
        onIdle();
      }, ms).unref();
  return {
    /** Call this for each chunk received. */
    touch() {
      if (!stopped) timer?.refresh();
    },
    pause() {
      reading = false;
      req.pause();
    },
    resume() {
      reading = true;
      if (!stopped) timer?.refresh();
      req.resume();
    },
    /** Call this once the body has ended or failed: the timer never fires again. */
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
