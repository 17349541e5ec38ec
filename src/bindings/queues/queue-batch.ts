import { decodeBody } from "./queue-body.ts";
import type { LeasedMessage } from "./queue-store.ts";

/** `retry()` / `retryAll()` options. */
interface RetryOptions {
  delaySeconds?: number;
}

/** What the handler asked for, by explicit calls; read once the handler is done. */
export class BatchOutcome {
  ackAll = false;
  /** `retryAll()` was called, with its delay (undefined: the consumer's `retry_delay`). */
  retryAll: { delaySeconds: number | undefined } | undefined;
  readonly acks = new Set<string>();
  readonly retries = new Map<string, number | undefined>();
  readonly #warn: (message: string) => void;

  constructor(warn: (message: string) => void) {
    this.#warn = warn;
  }

  ack(id: string): void {
    if (this.ackAll) return;
    if (this.retryAll !== undefined) {
      this.#warn(
        `Received a call to ack() on message ${id} after retryAll() was already called. Calling ack() on a message after calling retryAll() has no effect.`,
      );
      return;
    }
    if (this.retries.has(id)) {
      this.#warn(
        `Received a call to ack() on message ${id} after retry() was already called. Calling ack() on a message after calling retry() has no effect.`,
      );
      return;
    }
    this.acks.add(id);
  }

  retry(id: string, options: RetryOptions | undefined): void {
    if (this.ackAll) {
      this.#warn(
        `Received a call to retry() on message ${id} after ackAll() was already called. Calling retry() on a message after calling ackAll() has no effect.`,
      );
      return;
    }
    if (this.acks.has(id)) {
      this.#warn(
        `Received a call to retry() on message ${id} after ack() was already called. Calling retry() on a message after calling ack() has no effect.`,
      );
      return;
    }
    this.retries.set(id, options?.delaySeconds);
  }

  ackAllMessages(): void {
    if (this.retryAll !== undefined) {
      this.#warn(
        "Received a call to ackAll() after retryAll() was already called. Calling ackAll() after calling retryAll() has no effect.",
      );
      return;
    }
    this.ackAll = true;
  }

  retryAllMessages(options: RetryOptions | undefined): void {
    if (this.ackAll) {
      this.#warn(
        "Received a call to retryAll() after ackAll() was already called. Calling retryAll() after calling ackAll() has no effect.",
      );
      return;
    }
    this.retryAll = { delaySeconds: options?.delaySeconds };
  }

  /**
   * What becomes of message `id`: acked, or retried with a delay in seconds (undefined: the
   * consumer's default). A handler that returned acks what it did not retry; one that threw
   * retries what it did not ack.
   */
  settle(
    id: string,
    handlerFailed: boolean,
  ): { ack: true } | { ack: false; delaySeconds: number | undefined } {
    if (this.ackAll || this.acks.has(id)) return { ack: true };
    if (this.retries.has(id)) return { ack: false, delaySeconds: this.retries.get(id) };
    if (this.retryAll !== undefined)
      return { ack: false, delaySeconds: this.retryAll.delaySeconds };
    return handlerFailed ? { ack: false, delaySeconds: undefined } : { ack: true };
  }
}

/** One message of a batch, as the handler sees it (Cloudflare's `Message`). */
export class QueueMessage {
  readonly id: string;
  readonly timestamp: Date;
  readonly body: unknown;
  readonly attempts: number;
  readonly #outcome: BatchOutcome;

  constructor(message: LeasedMessage, outcome: BatchOutcome) {
    this.id = message.id;
    this.timestamp = new Date(message.timestamp);
    this.body = decodeBody(message.body, message.contentType);
    this.attempts = message.attempts;
    this.#outcome = outcome;
  }

  /** Marks the message delivered: it is not retried, even if the handler throws. */
  ack(): void {
    this.#outcome.ack(this.id);
  }

  /** Marks the message to be delivered again (after `delaySeconds`), even if the handler returns. */
  retry(options?: RetryOptions): void {
    this.#outcome.retry(this.id, options);
  }
}

/** The batch a Worker's `queue(batch, env, ctx)` handler gets (Cloudflare's `MessageBatch`). */
export class MessageBatch {
  readonly queue: string;
  readonly messages: readonly QueueMessage[];
  readonly #outcome: BatchOutcome;

  constructor(queue: string, messages: readonly LeasedMessage[], outcome: BatchOutcome) {
    this.queue = queue;
    this.#outcome = outcome;
    this.messages = Object.freeze(messages.map((message) => new QueueMessage(message, outcome)));
  }

  /** Marks every message delivered. */
  ackAll(): void {
    this.#outcome.ackAllMessages();
  }

  /** Marks every message (not acked one by one) to be delivered again. */
  retryAll(options?: RetryOptions): void {
    this.#outcome.retryAllMessages(options);
  }
}
