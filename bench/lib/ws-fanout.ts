// Workload 5's load generator: `clients` WebSockets in one room; `senders` of them each keep one
// message in flight (the next goes out when the sender receives its own message back), and the
// room broadcasts every message to every client. Measures deliveries per second and the latency
// from send to each delivery (sender and receivers share this process's clock).
import WebSocket from "ws";
import { Latencies } from "./stats.ts";

export interface FanoutLoad {
  /** "ws://127.0.0.1:<port>/w5" */
  url: string;
  clients: number;
  senders: number;
  warmupSeconds: number;
  seconds: number;
  /** Hard stop for connecting. */
  capMs: number;
  /** Called as the measured window opens and closes. */
  onWindowStart?: () => void;
  onWindowEnd?: () => void;
}

export interface FanoutResult {
  /** Messages received by clients during the measured window. */
  delivered: number;
  /** Messages sent during the window. */
  sent: number;
  /** Messages resent because the previous one did not come back within 5 s. */
  lost: number;
  seconds: number;
  /** delivered / seconds */
  perSecond: number;
  p50Ms: number | undefined;
  p99Ms: number | undefined;
}

const RESEND_AFTER_MS = 5000;

export async function runFanout(load: FanoutLoad): Promise<FanoutResult> {
  const sockets: WebSocket[] = [];
  let measuring = false;
  let sending = true;
  let delivered = 0;
  let sent = 0;
  let lost = 0;
  const latencies = new Latencies();
  const lastSent = new Float64Array(load.senders);

  const send = (index: number) => {
    if (!sending) return;
    const now = performance.now();
    lastSent[index] = now;
    if (measuring) sent++;
    sockets[index]!.send(`${now.toFixed(3)} ${index}`);
  };

  try {
    await withCap(
      Promise.all(
        Array.from({ length: load.clients }, (_, index) =>
          connect(load.url, sockets, index, (data) => {
            const now = performance.now();
            // "<sentAt> <sender>", ASCII: parsed straight from the bytes.
            const space = data.indexOf(SPACE);
            if (measuring) {
              delivered++;
              latencies.add(now - Number(data.toString("latin1", 0, space)));
            }
            if (index < load.senders && digits(data, space + 1) === index) send(index);
          }),
        ),
      ),
      load.capMs,
      "connecting the WebSocket clients",
    );

    const watchdog = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < load.senders; i++) {
        if (now - lastSent[i]! > RESEND_AFTER_MS) {
          lost++;
          send(i);
        }
      }
    }, 1000);
    try {
      for (let i = 0; i < load.senders; i++) send(i);
      await sleep(load.warmupSeconds * 1000);
      load.onWindowStart?.();
      measuring = true;
      const started = performance.now();
      await sleep(load.seconds * 1000);
      measuring = false;
      load.onWindowEnd?.();
      const seconds = (performance.now() - started) / 1000;
      sending = false;
      const [p50Ms, p99Ms] = latencies.percentiles(50, 99);
      return { delivered, sent, lost, seconds, perSecond: delivered / seconds, p50Ms, p99Ms };
    } finally {
      sending = false;
      clearInterval(watchdog);
    }
  } finally {
    await closeAll(sockets, 2000);
  }
}

const SPACE = 0x20;

/** The decimal number in `data` from `start` to the end. */
function digits(data: Buffer, start: number): number {
  let value = 0;
  for (let i = start; i < data.length; i++) value = value * 10 + data[i]! - 0x30;
  return value;
}

function connect(
  url: string,
  sockets: WebSocket[],
  index: number,
  onMessage: (data: Buffer) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
    sockets[index] = socket;
    socket.once("open", () => resolve());
    socket.once("error", reject);
    socket.on("message", (data, isBinary) => {
      if (!isBinary) onMessage(data as Buffer);
    });
  });
}

async function closeAll(sockets: WebSocket[], graceMs: number): Promise<void> {
  const closed = sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve();
        socket.once("close", () => resolve());
        socket.once("error", () => resolve());
        if (socket.readyState === WebSocket.OPEN) socket.close(1000, "done");
      }),
  );
  const timer = setTimeout(() => {
    for (const socket of sockets) socket.terminate();
  }, graceMs);
  await Promise.all(closed);
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withCap<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const cap = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out ${what} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, cap]);
  } finally {
    clearTimeout(timer);
  }
}
