import type { Server } from "node:http";
import type { Socket } from "node:net";
import { overCapacityReply, rawReply } from "./error-reply.ts";

/**
 * Refused connections that may linger at once, answered and waiting for the client to read the
 * 503 and close. Past it, a refused connection is closed without an answer: under a flood, the
 * descriptors refusals hold stay bounded.
 */
const MAX_LINGERING_REFUSALS = 64;
/** How long a refused connection may wait for its client to close before it is cut. */
const REFUSAL_GRACE_MS = 1000;

/**
 * Caps the server's open connections (HTTP and upgraded WebSocket alike: each holds a file
 * descriptor). A connection over the cap is answered at once with a 503 and closed, without its
 * request being read or reaching the Worker, so the connections already served keep their
 * descriptors, memory and event-loop time. Node's own `server.maxConnections` would close such a
 * connection with no answer at all, which clients report as a reset.
 */
export class ConnectionLimit {
  readonly max: number;
  readonly #onRefused: () => void;
  #open = 0;
  #lingering = 0;

  /** `onRefused` runs for each refused connection (the caller rate-limits its log line). */
  constructor(max: number, onRefused: () => void) {
    this.max = max;
    this.#onRefused = onRefused;
  }

  /** Connections admitted and not yet closed. */
  get open(): number {
    return this.#open;
  }

  /**
   * Puts the cap in front of `server`: every accepted socket passes `admit` before Node's HTTP
   * parser is attached (the documented `'connection'` event is how a socket enters an HTTP
   * server; its listener is moved behind the check). Call once, before the server listens.
   */
  guard(server: Server, onAdmitted: (socket: Socket) => void): void {
    const parse = server.listeners("connection") as Array<(socket: Socket) => void>;
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      if (!this.admit(socket)) return;
      onAdmitted(socket);
      for (const listener of parse) listener.call(server, socket);
    });
  }

  /** Counts `socket` until it closes and returns true, or refuses it and returns false. */
  admit(socket: Socket): boolean {
    if (this.#open < this.max) {
      this.#open++;
      socket.once("close", () => this.#open--);
      return true;
    }
    this.#onRefused();
    this.#refuse(socket);
    return false;
  }

  #refuse(socket: Socket): void {
    socket.on("error", () => {});
    if (this.#lingering >= MAX_LINGERING_REFUSALS) {
      socket.destroy();
      return;
    }
    this.#lingering++;
    socket.once("close", () => this.#lingering--);
    // Read and drop what the client sends, so it sees our close as a FIN after the 503 rather
    // than as a reset that could discard the answer before it is read.
    socket.resume();
    socket.setTimeout(REFUSAL_GRACE_MS, () => socket.destroy());
    socket.end(rawReply(overCapacityReply(this.max)));
  }
}
