import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

/** Marks a socket handed to the upgrade hook: never idle in HTTP terms, cut only at the deadline. */
const UPGRADED = -1;

/**
 * The server's open connections and how many requests each is serving, so shutdown can close
 * idle keep-alive connections at once, close busy ones as their last response ends, and cut
 * whatever is left (upgraded sockets included) at the deadline.
 */
export class Connections {
  readonly #active = new Map<Duplex, number>();
  #closing = false;

  /** True once `closeIdle` was called: responses should ask the client to close. */
  get closing(): boolean {
    return this.#closing;
  }

  /** Call this for every accepted socket. */
  add(socket: Socket): void {
    this.#active.set(socket, 0);
    socket.once("close", () => this.#active.delete(socket));
  }

  /** Call this when a request starts on `socket`. */
  requestStarted(socket: Duplex): void {
    const count = this.#active.get(socket);
    if (count !== undefined && count !== UPGRADED) this.#active.set(socket, count + 1);
  }

  /** Call this when a request's response has ended (or its connection closed). */
  requestEnded(socket: Duplex): void {
    const count = this.#active.get(socket);
    if (count === undefined || count === UPGRADED) return;
    this.#active.set(socket, count - 1);
    // Flushes what was written, then closes; the client sees the response whole.
    if (count === 1 && this.#closing) socket.end();
  }

  /** Call this when `socket` leaves HTTP for another protocol. */
  upgraded(socket: Duplex): void {
    if (this.#active.has(socket)) this.#active.set(socket, UPGRADED);
  }

  /** True while `socket` is serving a request. */
  busy(socket: Duplex): boolean {
    const count = this.#active.get(socket);
    return count !== undefined && count !== 0;
  }

  /** Starts shutdown: closes every connection not serving a request now. */
  closeIdle(): void {
    this.#closing = true;
    for (const [socket, count] of this.#active) if (count === 0) socket.destroy();
  }

  /** Ends shutdown: cuts every connection still open. */
  destroyAll(): void {
    for (const socket of this.#active.keys()) socket.destroy();
  }
}
