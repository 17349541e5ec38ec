import {
  consumerSettings,
  defaultContentType,
  hasQueueHandler,
  type MessageBatch,
  NatsQueueStore,
  parseNatsUrl,
  QueueConsumer,
  type QueueStore,
  type QueuesOptions,
  WorkerQueue,
} from "../bindings/queues/index.ts";
import { SteadError } from "../core/errors.ts";
import { formatOptionProblems } from "../core/invalid-options.ts";
import { openQueueFile } from "./queue-file.ts";

/** What the queues of one thread are made from. */
export interface QueuesSetup {
  /** `queues` (wrangler's key, or createRuntime's option). */
  readonly options: QueuesOptions | undefined;
  /** `queuesUrl`: NATS JetStream instead of `<dataDir>/queues.sqlite`. */
  readonly url: string | undefined;
  readonly compatibilityDate: string;
  readonly compatibilityFlags: readonly string[];
  /** This thread delivers messages to the Worker's handler (the main thread). */
  readonly consumerSide: boolean;
}

/**
 * The queues of one thread: a producer binding in `env` per `queues.producers` entry (usable at
 * once; sends wait until `open`), and, on the consumer side, a consumer per `queues.consumers`
 * entry once `consume` is called.
 */
export class RuntimeQueues {
  readonly #setup: QueuesSetup;
  readonly #store = Promise.withResolvers<QueueStore>();
  #opened: QueueStore | undefined;
  readonly #consumers: QueueConsumer[] = [];

  constructor(env: Record<string, unknown>, setup: QueuesSetup) {
    this.#setup = setup;
    this.#store.promise.catch(() => {});
    const contentType = defaultContentType(setup.compatibilityDate, setup.compatibilityFlags);
    for (const producer of setup.options?.producers ?? []) {
      env[producer.binding] = new WorkerQueue({
        queue: producer.queue,
        deliveryDelay: producer.delivery_delay ?? 0,
        defaultContentType: contentType,
        store: () => this.#store.promise,
      });
    }
  }

  /** Whether the app has queues at all (no store is opened without). */
  get used(): boolean {
    const { producers = [], consumers = [] } = this.#setup.options ?? {};
    return producers.length + consumers.length > 0;
  }

  /** Opens the store: NATS when `url` is set, else `<dataDir>/queues.sqlite`. */
  async open(dataDir: string): Promise<void> {
    if (!this.used) return;
    try {
      const { url, consumerSide } = this.#setup;
      this.#opened =
        url === undefined
          ? openQueueFile(dataDir, consumerSide)
          : await NatsQueueStore.open(parseNatsUrl(url, "queuesUrl"), { consumerSide });
      this.#store.resolve(this.#opened);
    } catch (error) {
      this.#store.reject(error);
      throw error;
    }
  }

  /** The runtime did not start: sends fail with `error`. */
  fail(error: unknown): void {
    this.#store.reject(error);
  }

  /**
   * Starts delivering each consumed queue's batches through `deliver`, which runs the Worker's
   * `queue` handler. Call once the store is open.
   */
  consume(
    deliver: (batch: MessageBatch) => Promise<void>,
    log: (message: string, error?: unknown) => void,
  ): void {
    const store = this.#opened;
    if (store === undefined) return;
    for (const entry of this.#setup.options?.consumers ?? []) {
      const consumer = new QueueConsumer(consumerSettings(entry), store, deliver, log);
      this.#consumers.push(consumer);
      consumer.start();
    }
  }

  /** Stops the consumers; resolves once the batches being handled are settled. */
  async stopConsumers(): Promise<void> {
    await Promise.all(this.#consumers.map((consumer) => consumer.stop()));
  }

  /** Stops the consumers and closes the store. */
  async close(): Promise<void> {
    await this.stopConsumers();
    await this.#opened?.close();
  }
}

/** Consumers need a `queue` handler on the Worker's default export: a configuration error if not. */
export function checkQueueHandler(
  options: QueuesOptions | undefined,
  entrypoint: unknown,
  source: string,
): void {
  const consumers = options?.consumers ?? [];
  if (consumers.length === 0 || hasQueueHandler(entrypoint)) return;
  throw new SteadError(
    "INVALID_CONFIG",
    formatOptionProblems(source, [
      `queues.consumers[0]: queue "${consumers[0]!.queue}" is consumed by this Worker, but its default export has no queue() handler. Add one (export default { async queue(batch, env, ctx) { ... } }, or a queue(batch) method on a WorkerEntrypoint class), or remove the consumer.`,
    ]),
  );
}
