// A TCP proxy the test controls, in front of one server: it passes, stalls, drops replies,
// refuses (a partition), or cuts the connections it holds. Deterministic faults without
// privileges.
import { once } from "node:events";
import { createConnection, createServer, type Server, type Socket } from "node:net";

export class TcpProxy implements AsyncDisposable {
  /**
   * "pass"; "stall": hold data both ways until `pass()`; "drop-replies": pass requests, drop
   * what comes back; "refuse": new connections are closed at once (cut the old ones too with
   * `cut()` for a partition).
   */
  mode: "pass" | "stall" | "drop-replies" | "refuse" = "pass";
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #stalled: Array<() => void> = [];

  private constructor(server: Server, target: { host: string; port: number }) {
    this.#server = server;
    this.#target = target;
  }

  /** Starts a proxy on a free port of `listenHost` (default 127.0.0.1) in front of `target`. */
  static async start(
    target: { host: string; port: number },
    listenHost = "127.0.0.1",
  ): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on("connection", (client) => proxy.#connect(client));
    server.listen(0, listenHost);
    await once(server, "listening");
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** "<host>:<port>" it listens on. */
  get address(): string {
    const { address, port } = this.#server.address() as { address: string; port: number };
    return `${address}:${port}`;
  }

  /** Destroys every open connection (as a network cut or a restarted server would). */
  cut(): void {
    for (const [client, upstream] of this.#pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.#pairs.clear();
  }

  /** Passes again, letting stalled data flow. */
  pass(): void {
    this.mode = "pass";
    for (const resume of this.#stalled.splice(0)) resume();
  }

  #connect(client: Socket): void {
    if (this.mode === "refuse") {
      client.destroy();
      return;
    }
    const upstream = createConnection(this.#target.port, this.#target.host);
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket, reply: boolean) =>
      from.on("data", (chunk) => {
        if (reply && this.mode === "drop-replies") return;
        if (this.mode === "stall") {
          this.#stalled.push(() => to.write(chunk));
          return;
        }
        to.write(chunk);
      });
    forward(client, upstream, false);
    forward(upstream, client, true);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#pairs.delete(pair);
    };
    client.on("close", close).on("error", close);
    upstream.on("close", close).on("error", close);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    this.#server.close();
  }
}
