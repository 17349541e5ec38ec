import {
  AckPolicy,
  type Consumer,
  DeliverPolicy,
  type JetStreamClient,
  JetStreamError,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { connect, headers, type NatsConnection, nanos } from "@nats-io/transport-node";
import { SteadError } from "../../core/errors.ts";
import type { LeasedMessage, NewMessage, QueueContentType, QueueStore } from "./queue-store.ts";

/** How long JetStream waits for an ack before it delivers a message again (kept up by `extend`). */
const ACK_WAIT_MS = 60_000;
/** How long the mover of delayed messages waits for one in one pull. */
const MOVER_WAIT_MS = 5_000;

const ID = "Stead-Id";
const TIMESTAMP = "Stead-Timestamp";
const CONTENT_TYPE = "Stead-Content-Type";
const DUE = "Stead-Due";

/** A leased message with the JetStream message that settles it. */
interface NatsLeased extends LeasedMessage {
  readonly [NATS_MSG]: JsMsg;
}
const NATS_MSG = Symbol("nats message");

/**
 * What `--queues`, `STEAD_QUEUES_URL` and `queuesUrl` accept: `nats://host[:port]`, optionally
 * `?prefix=NAME` (letters, digits, `_` and `-`).
 */
export const NATS_URL_PATTERN = /^nats:\/\/[^\s/?:]+(:\d{1,5})?\/?(\?prefix=[A-Za-z0-9_-]{1,32})?$/;

/** Where queues live in NATS: the server, and the stream and subjects named after `prefix`. */
export interface NatsQueueLocation {
  /** `host:port` of the NATS server. */
  readonly servers: string;
  /** Names the stream (`<PREFIX>_QUEUES`) and subjects (`<prefix>.queue.<name>`); default "stead". */
  readonly prefix: string;
}

/** Reads `nats://host:port[?prefix=name]`; throws INVALID_CONFIG naming `option`. */
export function parseNatsUrl(url: string, option: string): NatsQueueLocation {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {}
  const prefix = parsed?.searchParams.get("prefix") ?? "stead";
  if (
    parsed?.protocol !== "nats:" ||
    parsed.hostname === "" ||
    !/^[A-Za-z0-9_-]{1,32}$/.test(prefix)
  ) {
    throw new SteadError(
      "INVALID_CONFIG",
      `${option} must be a NATS URL like nats://127.0.0.1:4222 (optionally ?prefix=NAME, letters, digits, _ and -), got "${url}".`,
    );
  }
  return { servers: `${parsed.hostname}:${parsed.port || "4222"}`, prefix };
}

/**
 * Every queue in one JetStream stream (`<PREFIX>_QUEUES`, work-queue retention: a message is
 * gone once acknowledged), one subject per queue (`<prefix>.queue.<name>`), each consumed by a
 * durable pull consumer of its own (`q-<name>`): `receive` pulls, `ack` acks, `retry` naks with
 * the delay, and `attempts` is JetStream's delivery count. A delayed send goes to
 * `<prefix>.delayed.<name>`, which the consumer side's mover naks until the message is due and
 * then publishes to the queue's subject. Message ids are JetStream's `Nats-Msg-Id`, so a send
 * repeated within the stream's duplicate window is stored once. A dead-lettered message is
 * published to the dead-letter queue's subject, then acked.
 *
 * Durable as the NATS server makes it: JetStream acknowledges a publish once the server has
 * it, and fsyncs its files every `sync_interval` (set `sync_interval: always` on the server to
 * sync before every acknowledgement).
 */
export class NatsQueueStore implements QueueStore {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #prefix: string;
  readonly #stream: string;
  readonly #consumers = new Map<string, Promise<Consumer>>();
  readonly #closing = new AbortController();
  #mover: Promise<void> | undefined;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, location: NatsQueueLocation) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    this.#prefix = location.prefix;
    this.#stream = `${location.prefix.toUpperCase()}_QUEUES`;
  }

  /**
   * Connects and makes sure the stream exists. `consumerSide`: this process delivers messages
   * (it runs the mover of delayed messages).
   */
  static async open(
    location: NatsQueueLocation,
    options: { consumerSide: boolean },
  ): Promise<NatsQueueStore> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: location.servers, name: "stead-queues" });
    } catch (error) {
      throw new SteadError(
        "QUEUE_UNAVAILABLE",
        `Could not connect to NATS at ${location.servers} for queues: ${error instanceof Error ? error.message : String(error)}. Start nats-server with JetStream (-js), or fix --queues / STEAD_QUEUES_URL.`,
        { cause: error },
      );
    }
    try {
      const jsm = await jetstreamManager(nc);
      const store = new NatsQueueStore(nc, jsm, location);
      await store.#ensureStream();
      if (options.consumerSide) store.#mover = store.#moveDelayed();
      return store;
    } catch (error) {
      await nc.close();
      throw new SteadError(
        "QUEUE_UNAVAILABLE",
        `NATS at ${location.servers} did not set up the queues' stream: ${error instanceof Error ? error.message : String(error)}. Is JetStream enabled (nats-server -js)?`,
        { cause: error },
      );
    }
  }

  async send(queue: string, messages: readonly NewMessage[]): Promise<void> {
    await Promise.all(
      messages.map((message) => {
        const h = headers();
        h.set(ID, message.id);
        h.set(TIMESTAMP, String(message.timestamp));
        h.set(CONTENT_TYPE, message.contentType);
        const delayed = message.delayMs > 0;
        if (delayed) h.set(DUE, String(Date.now() + message.delayMs));
        return this.#js.publish(
          `${this.#prefix}.${delayed ? "delayed" : "queue"}.${queue}`,
          message.body,
          { msgID: message.id, headers: h },
        );
      }),
    );
  }

  async receive(
    queue: string,
    max: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedMessage[]> {
    if (signal.aborted || this.#closing.signal.aborted) return [];
    const consumer = await this.#consumer(queue);
    if (waitMs < MIN_PULL_MS) return this.#receiveSoon(consumer, max, waitMs, signal);
    const first = await pullOne(consumer, waitMs, signal);
    if (first === undefined) return [];
    const leased: NatsLeased[] = [leasedOf(first)];
    // What is already waiting comes in one pull (it arrives at once, so the pull ends early).
    const more = Math.min(max - 1, first.info.pending);
    if (more > 0) {
      try {
        const batch = await consumer.fetch({ max_messages: more, ...pullTimes(0) });
        for await (const message of batch) leased.push(leasedOf(message));
      } catch (error) {
        if (!pullTimedOut(error)) throw error;
      }
    }
    return leased;
  }

  /**
   * `receive` for a wait shorter than a pull (a batch filling up): looks at the consumer's
   * pending count every `POLL_MS` until the deadline, and pulls what is there. A pull cut short
   * instead could leave a message delivered to no one until the ack wait passed.
   */
  async #receiveSoon(
    consumer: Consumer,
    max: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedMessage[]> {
    const deadline = performance.now() + waitMs;
    for (;;) {
      const pending = (await consumer.info()).num_pending;
      if (pending > 0) {
        const leased: NatsLeased[] = [];
        try {
          const pull = await consumer.fetch({
            max_messages: Math.min(max, pending),
            ...pullTimes(0),
          });
          for await (const message of pull) leased.push(leasedOf(message));
        } catch (error) {
          if (!pullTimedOut(error)) throw error;
        }
        return leased;
      }
      const left = deadline - performance.now();
      if (left <= 0 || signal.aborted) return [];
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, POLL_MS));
        signal.addEventListener("abort", done);
      });
    }
  }

  async extend(_queue: string, messages: readonly LeasedMessage[]): Promise<void> {
    for (const message of messages) (message as NatsLeased)[NATS_MSG].working();
  }

  async ack(_queue: string, messages: readonly LeasedMessage[]): Promise<void> {
    await Promise.all(messages.map((message) => (message as NatsLeased)[NATS_MSG].ackAck()));
  }

  async retry(_queue: string, messages: readonly LeasedMessage[], delayMs: number): Promise<void> {
    for (const message of messages) {
      (message as NatsLeased)[NATS_MSG].nak(delayMs > 0 ? delayMs : undefined);
    }
  }

  async deadLetter(
    queue: string,
    messages: readonly LeasedMessage[],
    deadLetterQueue: string,
  ): Promise<void> {
    await Promise.all(
      messages.map(async (message) => {
        const h = headers();
        h.set(ID, message.id);
        h.set(TIMESTAMP, String(message.timestamp));
        h.set(CONTENT_TYPE, message.contentType);
        await this.#js.publish(`${this.#prefix}.queue.${deadLetterQueue}`, message.body, {
          msgID: `${message.id}:dead-letter:${queue}`,
          headers: h,
        });
        await (message as NatsLeased)[NATS_MSG].ackAck();
      }),
    );
  }

  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    await this.#nc.drain().catch(() => {});
    await this.#mover;
  }

  async #ensureStream(): Promise<void> {
    const config = {
      name: this.#stream,
      subjects: [`${this.#prefix}.queue.>`, `${this.#prefix}.delayed.>`],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(120_000),
    };
    try {
      await this.#jsm.streams.info(this.#stream);
    } catch {
      await this.#jsm.streams.add(config);
    }
  }

  /** The durable consumer of `queue`'s subject (or of every delayed subject), made once. */
  #consumer(queue: string | undefined): Promise<Consumer> {
    const name = queue === undefined ? "delayed" : `q-${queue}`;
    let consumer = this.#consumers.get(name);
    if (consumer === undefined) {
      consumer = (async () => {
        await this.#jsm.consumers.add(this.#stream, {
          durable_name: name,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(ACK_WAIT_MS),
          max_deliver: -1,
          filter_subject: `${this.#prefix}.${queue === undefined ? "delayed.>" : `queue.${queue}`}`,
        });
        return this.#js.consumers.get(this.#stream, name);
      })();
      consumer.catch(() => this.#consumers.delete(name));
      this.#consumers.set(name, consumer);
    }
    return consumer;
  }

  /** Publishes delayed messages to their queue's subject once they are due. */
  async #moveDelayed(): Promise<void> {
    const prefix = `${this.#prefix}.delayed.`;
    while (!this.#closing.signal.aborted) {
      try {
        const consumer = await this.#consumer(undefined);
        const message = await pullOne(consumer, MOVER_WAIT_MS, this.#closing.signal);
        if (message === undefined) continue;
        const left = Number(message.headers?.get(DUE) ?? 0) - Date.now();
        if (left > 0) {
          message.nak(left);
          continue;
        }
        const h = headers();
        for (const name of [ID, TIMESTAMP, CONTENT_TYPE])
          h.set(name, message.headers?.get(name) ?? "");
        await this.#js.publish(
          `${this.#prefix}.queue.${message.subject.slice(prefix.length)}`,
          message.data,
          {
            msgID: `${message.headers?.get(ID)}:due`,
            headers: h,
          },
        );
        await message.ackAck();
      } catch {
        // A closing connection, or NATS away for a while: try again unless closing.
        if (!this.#closing.signal.aborted) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

/**
 * One message of `consumer`, or none after `waitMs` (at least `MIN_PULL_MS`); an abort of
 * `signal` ends the pull early.
 */
async function pullOne(
  consumer: Consumer,
  waitMs: number,
  signal: AbortSignal,
): Promise<JsMsg | undefined> {
  const pull = await consumer.fetch({ max_messages: 1, ...pullTimes(waitMs) });
  const stop = () => pull.stop();
  signal.addEventListener("abort", stop);
  if (signal.aborted) stop();
  let first: JsMsg | undefined;
  try {
    for await (const message of pull) first = message;
  } catch (error) {
    if (!pullTimedOut(error)) throw error;
  } finally {
    signal.removeEventListener("abort", stop);
  }
  return first;
}

/** How often a short `receive` looks at the consumer's pending count. */
const POLL_MS = 50;

/** Shortest pull: the client's heartbeats are at least 500 ms apart, and a pull lasts four. */
const MIN_PULL_MS = 2_000;

/**
 * How long a pull waiting `waitMs` lasts, and the server's heartbeats in it: four per pull, so
 * the client's watch (two missed heartbeats) never races the server's end of the pull.
 */
function pullTimes(waitMs: number): { expires: number; idle_heartbeat: number } {
  const expires = Math.max(MIN_PULL_MS, waitMs);
  return { expires, idle_heartbeat: Math.min(30_000, expires / 4) };
}

/**
 * A pull that ended by the client's heartbeat watch instead of the server's expiry (an event loop
 * busy for a second): it found nothing, which is not a failure.
 */
function pullTimedOut(error: unknown): boolean {
  return error instanceof JetStreamError && /heartbeats missed/.test(error.message);
}

function leasedOf(message: JsMsg): NatsLeased {
  const h = message.headers;
  return {
    id: h?.get(ID) ?? String(message.seq),
    timestamp: Number(h?.get(TIMESTAMP) ?? 0),
    contentType: (h?.get(CONTENT_TYPE) || "v8") as QueueContentType,
    body: message.data,
    attempts: message.info.deliveryCount,
    [NATS_MSG]: message,
  };
}
