import type { ConsumerSettings } from "./queue-consumer.ts";
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BATCH_TIMEOUT_SECONDS,
  DEFAULT_MAX_RETRIES,
} from "./queue-limits.ts";
import type { QueueContentType } from "./queue-store.ts";

/** One `queues.producers` entry: `env[binding]` sends to `queue`. */
export interface QueueProducerEntry {
  queue: string;
  binding: string;
  /** Seconds every message waits before delivery unless `send` says otherwise (default 0). */
  delivery_delay?: number;
}

/** One `queues.consumers` entry: the Worker's `queue` handler receives `queue`'s messages. */
export interface QueueConsumerEntry {
  queue: string;
  /** Messages per batch, 1-100 (default 10). */
  max_batch_size?: number;
  /** Seconds to wait for a batch to fill, 0-60 (default 5). */
  max_batch_timeout?: number;
  /** Retries before a message is dead-lettered or dropped, 0-100 (default 3). */
  max_retries?: number;
  /** The queue messages go to once `max_retries` is spent (default: dropped). */
  dead_letter_queue?: string;
  /** Seconds a retried message waits (default 0). */
  retry_delay?: number;
  /** Batches handled at once, 1-250 (default 1). */
  max_concurrency?: number;
  /** Only "worker" (a push consumer): Stead has no HTTP pull consumers. */
  type?: "worker";
}

/** `createRuntime()`'s `queues` option, as the wrangler config's `queues` key. */
export interface QueuesOptions {
  producers?: QueueProducerEntry[];
  consumers?: QueueConsumerEntry[];
}

/** A consumer entry with Cloudflare's defaults (concurrency: 1, where Cloudflare scales). */
export function consumerSettings(entry: QueueConsumerEntry): ConsumerSettings {
  return {
    queue: entry.queue,
    maxBatchSize: entry.max_batch_size ?? DEFAULT_BATCH_SIZE,
    maxBatchTimeoutMs: (entry.max_batch_timeout ?? DEFAULT_BATCH_TIMEOUT_SECONDS) * 1000,
    maxRetries: entry.max_retries ?? DEFAULT_MAX_RETRIES,
    deadLetterQueue: entry.dead_letter_queue,
    retryDelaySeconds: entry.retry_delay ?? 0,
    maxConcurrency: entry.max_concurrency ?? 1,
  };
}

/**
 * The content type of a message sent without one: "json" from compatibility date 2024-03-18 or
 * with `queues_json_messages`, "v8" before it or with `no_queues_json_messages`, as in workerd.
 */
export function defaultContentType(
  compatibilityDate: string,
  compatibilityFlags: readonly string[],
): QueueContentType {
  if (compatibilityFlags.includes("no_queues_json_messages")) return "v8";
  if (compatibilityFlags.includes("queues_json_messages")) return "json";
  return compatibilityDate >= "2024-03-18" ? "json" : "v8";
}
