import WebSocket from "ws";

/** How a WebSocket connection ended, as the client saw it. */
export interface Closed {
  code: number;
  reason: string;
}

/** A real WebSocket client (`ws`) that records what the server sends. */
export interface WsClient extends AsyncDisposable {
  readonly socket: WebSocket;
  /** Every message received, JSON-parsed when it is JSON, in order. */
  readonly received: unknown[];
  /** Resolves once the connection has closed. */
  readonly closed: Promise<Closed>;
  send(message: unknown): void;
  /**
   * The first message matching `match` that no earlier `next` call returned, waiting for it up
   * to `timeoutMs`.
   */
  next<T = any>(match?: (message: any) => boolean, timeoutMs?: number): Promise<T>;
}

/** Opens a WebSocket to `url` and waits until it is open. */
export async function connect(
  url: string,
  options: { headers?: Record<string, string>; localAddress?: string; protocols?: string[] } = {},
): Promise<WsClient> {
  const socket = new WebSocket(url, options.protocols, {
    headers: options.headers,
    localAddress: options.localAddress,
  });
  const received: unknown[] = [];
  const taken = new Set<number>();
  const waiters = new Set<() => void>();
  socket.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
    const text = isBinary ? undefined : data.toString();
    let value: unknown = isBinary ? data : text;
    if (text !== undefined) {
      try {
        value = JSON.parse(text);
      } catch {
        // Not JSON: kept as text.
      }
    }
    received.push(value);
    for (const wake of waiters) wake();
  });
  const closed = new Promise<Closed>((resolve) => {
    socket.once("close", (code: number, reason: Buffer) => {
      resolve({ code, reason: reason.toString() });
      for (const wake of waiters) wake();
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.once("unexpected-response", (_request, response) =>
      reject(new Error(`WebSocket upgrade to ${url} answered ${response.statusCode}`)),
    );
  });
  socket.on("error", () => {
    // Reported through `closed`.
  });

  const find = (match: (message: any) => boolean) =>
    received.findIndex((message, index) => !taken.has(index) && match(message));

  return {
    socket,
    received,
    closed,
    send(message) {
      socket.send(typeof message === "string" ? message : JSON.stringify(message));
    },
    next(match = () => true, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const index = find(match);
          if (index >= 0) {
            done();
            taken.add(index);
            resolve(received[index] as any);
          } else if (socket.readyState === WebSocket.CLOSED) {
            done();
            reject(new Error(`the socket closed before a matching message; got ${show(received)}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${show(received)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async [Symbol.asyncDispose]() {
      if (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING) {
        socket.terminate();
      }
    },
  };
}

function show(messages: unknown[]): string {
  return JSON.stringify(messages.map((m) => (Buffer.isBuffer(m) ? `<${m.length} bytes>` : m)));
}
