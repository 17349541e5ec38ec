/**
 * Where a queue's messages live between `send` and the consumer's acknowledgement. The producer
 * (`queue-producer.ts`) checks every message against Cloudflare's limits before it calls a
 * store, and the consumer (`queue-consumer.ts`) decides what happens to each delivered message,
 * so a store only stores, leases and settles. Two implementations run the same cases
 * (`queue-store.case.ts`): one SQLite file in the data directory (`sqlite-queue-store.ts`), and
 * NATS JetStream (`nats-queue-store.ts`).
 */

/** How a message body was serialized (`send`'s `contentType`). */
export type QueueContentType = "text" | "bytes" | "json" | "v8";

/** A message as the producer hands it to the store. */
export interface NewMessage {
  /** Unique; a store that is sent the same id twice keeps one message (NATS: `Nats-Msg-Id`). */
  readonly id: string;
  /** When it was sent, ms since the epoch. */
  readonly timestamp: number;
  readonly contentType: QueueContentType;
  readonly body: Uint8Array;
  /** Not delivered before this many ms from now. */
  readonly delayMs: number;
}

/** A message handed to the consumer, leased to it until it is settled. */
export interface LeasedMessage {
  readonly id: string;
  readonly timestamp: number;
  readonly contentType: QueueContentType;
  readonly body: Uint8Array;
  /** Deliveries so far, this one included (1 on the first). */
  readonly attempts: number;
}

export interface QueueStore {
  /**
   * Appends `messages` to `queue`, all or none; resolves once they are durable (they survive
   * the process and the machine going down). Several sends made together may share one sync.
   */
  send(queue: string, messages: readonly NewMessage[]): Promise<void>;
  /**
   * Leases up to `max` messages of `queue` that are due, oldest first: no other `receive`
   * returns them until they are settled, or until the lease lapses (after a crash: the store is
   * reopened, or NATS's ack wait passes), when they are delivered again. Waits up to `waitMs`
   * for a first message when none is due; resolves with none when `signal` aborts. A store may
   * hand messages that come back from `retry` only to a receive that waits 2 s or more (NATS
   * sees those through a pull; a shorter wait looks at new messages only).
   */
  receive(
    queue: string,
    max: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedMessage[]>;
  /** Keeps leases alive while the consumer's handler runs (call at least every 10 s). */
  extend(queue: string, messages: readonly LeasedMessage[]): Promise<void>;
  /** The messages were handled: they are gone for good. */
  ack(queue: string, messages: readonly LeasedMessage[]): Promise<void>;
  /** The messages go back to `queue`, due again after `delayMs`, their attempts kept. */
  retry(queue: string, messages: readonly LeasedMessage[], delayMs: number): Promise<void>;
  /**
   * The messages leave `queue` for `deadLetterQueue` (same ids, bodies and timestamps, attempts
   * from zero), atomically or at least once.
   */
  deadLetter(
    queue: string,
    messages: readonly LeasedMessage[],
    deadLetterQueue: string,
  ): Promise<void>;
  /** Closes the store; calls in flight finish first. */
  close(): Promise<void>;
}
