import { randomUUID } from "node:crypto";
import { sendFromCurrent } from "../../core/gates/context.ts";
import { contentTypeOf, encodeBody } from "./queue-body.ts";
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_MESSAGES,
  MAX_DELAY_SECONDS,
  MAX_MESSAGE_BYTES,
} from "./queue-limits.ts";
import type { NewMessage, QueueContentType, QueueStore } from "./queue-store.ts";

/** What one producer binding (`queues.producers` entry) sends to. */
export interface QueueProducerOptions {
  /** The queue's name. */
  readonly queue: string;
  /** `delivery_delay`: seconds every message waits unless `delaySeconds` says otherwise. */
  readonly deliveryDelay: number;
  /** The content type of a message sent without one: "json" from 2024-03-18, else "v8". */
  readonly defaultContentType: QueueContentType;
  /** The store; calls made before it is open wait for it. */
  readonly store: () => Promise<QueueStore>;
}

interface SendOptions {
  contentType?: string;
  delaySeconds?: number;
}

interface SendRequest extends SendOptions {
  body: unknown;
}

/**
 * A queue producer binding (`env.MY_QUEUE`), as Cloudflare's `Queue`: `send` and `sendBatch`
 * resolve once the messages are durably stored. Inside a Durable Object they are outputs: a
 * message sent after a write is stored only once that write is durable (the output gate).
 *
 * @example
 * await env.JOBS.send({ kind: "resize", key }, { delaySeconds: 30 });
 * await env.JOBS.sendBatch([{ body: "a", contentType: "text" }, { body: "b" }]);
 */
export class WorkerQueue {
  readonly #options: QueueProducerOptions;

  constructor(options: QueueProducerOptions) {
    this.#options = options;
  }

  /** Sends one message. */
  async send(body: unknown, options?: SendOptions): Promise<void> {
    const message = this.#message({ ...options, body }, undefined, "send");
    if (message.body.byteLength > MAX_MESSAGE_BYTES) {
      throw new Error(
        `Queue send failed: message length of ${message.body.byteLength} bytes exceeds limit of ${MAX_MESSAGE_BYTES}`,
      );
    }
    await this.#store([message]);
  }

  /** Sends up to 100 messages (256 KB together), all or none. */
  async sendBatch(
    messages: Iterable<SendRequest>,
    options?: { delaySeconds?: number },
  ): Promise<void> {
    const requests = [...messages];
    if (requests.length === 0) throw new TypeError("sendBatch() requires at least one message");
    const batchDelay = options?.delaySeconds;
    const stored = requests.map((request) => this.#message(request, batchDelay, "sendBatch"));
    if (stored.length > MAX_BATCH_MESSAGES) {
      throw new Error(
        `Queue sendBatch failed: batch message count of ${stored.length} exceeds limit of ${MAX_BATCH_MESSAGES}`,
      );
    }
    let total = 0;
    for (const { body } of stored) {
      if (body.byteLength > MAX_MESSAGE_BYTES) {
        throw new Error(
          `Queue sendBatch failed: message in batch has length ${body.byteLength} bytes which exceeds single message size limit of ${MAX_MESSAGE_BYTES}`,
        );
      }
      total += body.byteLength;
    }
    if (total > MAX_BATCH_BYTES) {
      throw new Error(
        `Queue sendBatch failed: batch size of ${total} bytes exceeds limit of ${MAX_BATCH_BYTES}`,
      );
    }
    await this.#store(stored);
  }

  /** Stores the messages as an output of the calling object, if any. */
  #store(messages: NewMessage[]): Promise<void> {
    const { queue, store } = this.#options;
    return sendFromCurrent(async () => (await store()).send(queue, messages));
  }

  #message(request: SendRequest, batchDelay: number | undefined, method: string): NewMessage {
    const contentType =
      request.contentType === undefined
        ? this.#options.defaultContentType
        : contentTypeOf(request.contentType);
    const body = encodeBody(request.body, contentType);
    const delay = request.delaySeconds ?? batchDelay ?? this.#options.deliveryDelay;
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      throw new Error(
        `Queue ${method} failed: delaySeconds must be a whole number of seconds from 0 to ${MAX_DELAY_SECONDS} (12 hours), got ${String(delay)}`,
      );
    }
    return {
      id: randomUUID().replaceAll("-", ""),
      timestamp: Date.now(),
      contentType,
      body,
      delayMs: delay * 1000,
    };
  }
}
