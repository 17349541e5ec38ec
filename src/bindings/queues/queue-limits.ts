/** Cloudflare Queues' limits (https://developers.cloudflare.com/queues/platform/limits/). */

/** A message's body, serialized, at most (128 KB). */
export const MAX_MESSAGE_BYTES = 128_000;
/** Messages in one `sendBatch`. */
export const MAX_BATCH_MESSAGES = 100;
/** The bodies of one `sendBatch`, together (256 KB). */
export const MAX_BATCH_BYTES = 256_000;
/** `delaySeconds`, `delivery_delay` and `retry_delay` at most: 12 hours. */
export const MAX_DELAY_SECONDS = 43_200;
/** `max_batch_size` at most. */
export const MAX_CONSUMER_BATCH = 100;
/** `max_batch_timeout` at most, seconds. */
export const MAX_BATCH_TIMEOUT_SECONDS = 60;
/** `max_concurrency` at most. */
export const MAX_CONCURRENCY = 250;

/** Consumer defaults, as on Cloudflare. */
export const DEFAULT_BATCH_SIZE = 10;
export const DEFAULT_BATCH_TIMEOUT_SECONDS = 5;
export const DEFAULT_MAX_RETRIES = 3;
