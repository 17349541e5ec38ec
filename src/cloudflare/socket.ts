import { type Socket as NetSocket, connect as netConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { deferred } from "../core/deferred.ts";
import { currentObject, type ObjectContext } from "../core/gates/context.ts";

/** `secureTransport` of `connect()`. */
export type SecureTransport = "off" | "on" | "starttls";

/** What `socket.opened` resolves to. */
export interface SocketInfo {
  remoteAddress?: string;
  localAddress?: string;
}

/** Where and how a `Socket` connects. */
export interface SocketTarget {
  hostname: string;
  port: number;
  secureTransport: SecureTransport;
  allowHalfOpen: boolean;
}

/** Cloudflare's text for a connection that could not be made. */
const CONNECT_FAILED = "proxy request failed, cannot connect to the specified address";

/**
 * A TCP connection as `cloudflare:sockets` has it: web streams over a `node:net` (or `node:tls`)
 * socket. Made by `connect()`. In a Durable Object, the connection and every write made after a
 * storage write wait for that write to be durable (the output gate), as outgoing `fetch` does.
 */
export class Socket {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened: Promise<SocketInfo>;
  readonly closed: Promise<void>;
  readonly #target: SocketTarget;
  readonly #owner: ObjectContext | undefined;
  #socket: NetSocket | undefined;
  #upgraded = false;
  #tlsStarted = false;
  /** Detaches the streams from the Node socket (for startTls). */
  #detach: () => void = () => {};

  /** @internal Use `connect()`. */
  constructor(
    target: SocketTarget,
    existing?: { socket: Promise<NetSocket>; owner?: ObjectContext },
  ) {
    this.#target = target;
    this.#owner = existing?.owner ?? currentObject();
    const opened = deferred<SocketInfo>();
    const closed = deferred<void>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    // Rejections a caller never looks at must not crash the process.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
    const socket = existing?.socket ?? this.#open();
    const ready = socket.then((node) => {
      this.#socket = node;
      return node;
    });
    let isOpen = false;
    ready.then(
      (node) => {
        // Both sockets are new here (the events cannot have fired yet); TLS opens on handshake.
        const secure = target.secureTransport === "on" || existing !== undefined;
        node.once(secure ? "secureConnect" : "connect", () => {
          isOpen = true;
          opened.resolve(socketInfo(node));
        });
        node.once("error", (error) => {
          const failure = isOpen ? error : connectFailed(error);
          opened.reject(failure);
          closed.reject(failure);
        });
        node.once("close", () => {
          if (!isOpen)
            opened.reject(connectFailed(new Error("The connection closed before it opened.")));
          closed.resolve();
        });
      },
      (error: unknown) => {
        const failure = error instanceof TypeError ? error : connectFailed(error);
        opened.reject(failure);
        closed.reject(failure);
      },
    );
    this.readable = this.#readableOf(ready, closed.promise);
    this.writable = this.#writableOf(ready);
  }

  /** True on the socket `startTls()` returned. */
  get upgraded(): boolean {
    return this.#upgraded;
  }

  get secureTransport(): SecureTransport {
    return this.#target.secureTransport;
  }

  /** Closes both directions; resolves once the connection is closed. */
  async close(): Promise<void> {
    const node = this.#socket;
    if (node === undefined) await this.opened.catch(() => {});
    this.#socket?.destroy();
    await this.closed.catch(() => {});
  }

  /**
   * Upgrades a connection made with `secureTransport: "starttls"` to TLS, returning the new,
   * encrypted socket; this one's streams stop working.
   */
  startTls(options?: { expectedServerHostname?: string }): Socket {
    if (this.#target.secureTransport === "on")
      throw new TypeError("Cannot startTls on a TLS socket.");
    if (this.#target.secureTransport !== "starttls") {
      throw new TypeError(
        "The `secureTransport` socket option must be set to 'starttls' for startTls to be used.",
      );
    }
    if (this.#tlsStarted) {
      throw new TypeError(
        "startTls has already been called on this socket, or the socket was transferred over RPC.",
      );
    }
    if (options?.expectedServerHostname !== undefined) {
      throw new TypeError(
        "The expectedServerHostname option is not currently supported in startTls.",
      );
    }
    this.#tlsStarted = true;
    const plain = this.opened.then(() => {
      const node = this.#socket;
      if (node === undefined || node.destroyed) {
        throw new TypeError("The connection was closed before startTls could be started.");
      }
      this.#detach();
      return tlsConnect({ socket: node, ...sni(this.#target.hostname) });
    });
    const upgraded = new Socket({ ...this.#target }, { socket: plain, owner: this.#owner });
    upgraded.#upgraded = true;
    upgraded.#tlsStarted = true;
    return upgraded;
  }

  #open(): Promise<NetSocket> {
    const { hostname, port, secureTransport, allowHalfOpen } = this.#target;
    const connectNow = (): NetSocket => {
      const plain = netConnect({ host: hostname, port, allowHalfOpen });
      return secureTransport === "on" ? tlsConnect({ socket: plain, ...sni(hostname) }) : plain;
    };
    // Made after a storage write, the connection waits for that write to be durable.
    const held = this.#owner?.outputGate.wait();
    return held ? held.then(connectNow) : Promise.resolve().then(connectNow);
  }

  #readableOf(ready: Promise<NetSocket>, closed: Promise<void>): ReadableStream<Uint8Array> {
    let node: NetSocket | undefined;
    return new ReadableStream<Uint8Array>({
      start: async (controller) => {
        try {
          node = await ready;
        } catch (error) {
          controller.error(error);
          return;
        }
        let done = false;
        const onData = (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) node!.pause();
        };
        const finish = () => {
          if (done) return;
          done = true;
          try {
            controller.close();
          } catch {}
        };
        const onError = (error: Error) => {
          if (done) return;
          done = true;
          controller.error(error);
        };
        node.on("data", onData);
        node.once("end", finish);
        node.once("close", finish);
        node.once("error", onError);
        this.#detach = () => {
          node!.off("data", onData);
          node!.off("end", finish);
          node!.off("close", finish);
          node!.off("error", onError);
          finish();
        };
        closed.catch(() => {});
      },
      pull: () => {
        node?.resume();
      },
      cancel: () => {
        node?.destroy();
      },
    });
  }

  #writableOf(ready: Promise<NetSocket>): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      write: async (chunk) => {
        const node = await ready;
        // A write after a storage write leaves once that write is durable.
        await this.#owner?.outputGate.wait();
        const bytes = toBytes(chunk);
        await new Promise<void>((resolve, reject) =>
          node.write(bytes, (error) => (error ? reject(error) : resolve())),
        );
      },
      close: async () => {
        const node = await ready;
        await new Promise<void>((resolve) => node.end(resolve));
      },
      abort: async () => {
        (await ready.catch(() => undefined))?.destroy();
      },
    });
  }
}

function socketInfo(node: NetSocket): SocketInfo {
  return {
    remoteAddress: hostPort(node.remoteAddress, node.remotePort),
    localAddress: hostPort(node.localAddress, node.localPort),
  };
}

function hostPort(address: string | undefined, port: number | undefined): string | undefined {
  if (address === undefined || port === undefined) return undefined;
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The TLS server name to send: SNI takes names, not IP addresses. */
function sni(hostname: string): { servername?: string } {
  return /^[\d.]+$/.test(hostname) || hostname.includes(":") ? {} : { servername: hostname };
}

function connectFailed(cause: unknown): Error {
  return new Error(CONNECT_FAILED, { cause });
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk))
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (typeof chunk === "string") return new TextEncoder().encode(chunk);
  throw new TypeError("A socket's writable accepts ArrayBuffer, ArrayBufferView or string chunks.");
}
