import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ErrorReply } from "./error-reply.ts";

/** Marks a socket handed to the upgrade hook: never idle in HTTP terms, cut only at the deadline. */
const UPGRADED = -1;

/** A request being served, as its connection reports failures to it. */
export interface ServedRequest {
  /**
   * The connection failed while this request was still arriving (its chunked body turned out
   * malformed, or it took too long): fail the Worker's read of the body with `bodyError`, and
   * answer `reply` and close if no response was sent yet, or cut the connection if one was.
   * Called at most once per request.
   */
  connectionFailed(reason: string, reply: ErrorReply, bodyError: Error): void;
}

interface ConnectionState {
  /** Requests being served, or UPGRADED. */
  requests: number;
  /** The request whose message the parser read last: the one a parse error belongs to. */
  latest: ServedRequest | undefined;
  /** Set once a failure was reported: the parser stays failed and reports it again. */
  failed: boolean;
}

/**
 * The server's open connections and how many requests each is serving, so shutdown can close
 * idle keep-alive connections at once, close busy ones as their last response ends, and cut
 * whatever is left (upgraded sockets included) at the deadline; and so a parse error in a body
 * reaches the request it belongs to.
 */
export class Connections {
  readonly #active = new Map<Duplex, ConnectionState>();
  #closing = false;
  /** Called once no connection is left (see `allClosed`). */
  #whenEmpty: Array<() => void> = [];

  /** True once `closeIdle` was called: responses should ask the client to close. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Call this for every accepted socket. */
  add(socket: Socket): void {
    this.#active.set(socket, { requests: 0, latest: undefined, failed: false });
    socket.once("close", () => {
      this.#active.delete(socket);
      if (this.#active.size === 0) for (const resolve of this.#whenEmpty.splice(0)) resolve();
    });
  }

  /** Call this when a request starts on `socket`. */
  requestStarted(socket: Duplex, request: ServedRequest): void {
    const state = this.#active.get(socket);
    if (state === undefined || state.requests === UPGRADED) return;
    state.requests++;
    state.latest = request;
  }

  /** Call this when a request's response has ended (or its connection closed). */
  requestEnded(socket: Duplex, request: ServedRequest): void {
    const state = this.#active.get(socket);
    if (state === undefined || state.requests === UPGRADED) return;
    state.requests--;
    if (state.latest === request) state.latest = undefined;
    // Flushes what was written, then closes; the client sees the response whole.
    if (state.requests === 0 && this.#closing) socket.end();
  }

  /** Call this when `socket` leaves HTTP for another protocol. */
  upgraded(socket: Duplex): void {
    const state = this.#active.get(socket);
    if (state !== undefined) state.requests = UPGRADED;
  }

  /** True while `socket` is serving a request. */
  busy(socket: Duplex): boolean {
    const requests = this.#active.get(socket)?.requests;
    return requests !== undefined && requests !== 0;
  }

  /**
   * Reports a failure of `socket`'s input to the request still arriving on it (see
   * `ServedRequest.connectionFailed`), once: the parser keeps failing on later input, and those
   * reports are dropped while the answer is written. Returns false when no request is arriving
   * (the caller answers or cuts the connection itself).
   */
  failed(socket: Duplex, reason: string, reply: ErrorReply, bodyError: Error): boolean {
    const state = this.#active.get(socket);
    if (state === undefined) return false;
    if (state.failed) return true;
    const request = state.latest;
    if (request === undefined) return false;
    state.failed = true;
    request.connectionFailed(reason, reply, bodyError);
    return true;
  }

  /** Starts shutdown: closes every connection not serving a request now. */
  closeIdle(): void {
    this.#closing = true;
    for (const [socket, state] of this.#active) if (state.requests === 0) socket.destroy();
  }

  /**
   * Resolves once every connection has closed, upgraded ones included (Node's own `close`
   * callback does not wait for those: a WebSocket's closing handshake may still be under way).
   */
  allClosed(): Promise<void> {
    if (this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#whenEmpty.push(resolve));
  }

  /** Ends shutdown: cuts every connection still open. */
  destroyAll(): void {
    for (const socket of this.#active.keys()) socket.destroy();
  }
}
