export {
  NATS_URL_PATTERN,
  type NatsQueueLocation,
  NatsQueueStore,
  parseNatsUrl,
} from "./nats-queue-store.ts";
export { MessageBatch, QueueMessage } from "./queue-batch.ts";
export { type ConsumerSettings, QueueConsumer } from "./queue-consumer.ts";
export { callQueue, hasQueueHandler } from "./queue-handler.ts";
export {
  consumerSettings,
  defaultContentType,
  type QueueConsumerEntry,
  type QueueProducerEntry,
  type QueuesOptions,
} from "./queue-options.ts";
export { type QueueProducerOptions, WorkerQueue } from "./queue-producer.ts";
export type { LeasedMessage, NewMessage, QueueContentType, QueueStore } from "./queue-store.ts";
export { SqliteQueueStore } from "./sqlite-queue-store.ts";
