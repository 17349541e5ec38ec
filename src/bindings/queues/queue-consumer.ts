import { BatchOutcome, MessageBatch } from "./queue-batch.ts";
import type { LeasedMessage, QueueStore } from "./queue-store.ts";

/** A `queues.consumers` entry with its defaults applied. */
export interface ConsumerSettings {
  readonly queue: string;
  readonly maxBatchSize: number;
  readonly maxBatchTimeoutMs: number;
  readonly maxRetries: number;
  readonly deadLetterQueue: string | undefined;
  /** Seconds a retried message waits unless `retry({ delaySeconds })` says otherwise. */
  readonly retryDelaySeconds: number;
  /** Batches delivered at once. */
  readonly maxConcurrency: number;
}

/** How long an idle consumer waits in one `receive` (it ends early when the consumer stops). */
const IDLE_WAIT_MS = 5_000;
/** How long a consumer whose store failed to receive waits before it tries again. */
const RETRY_RECEIVE_MS = 1_000;
/** How often the leases of a batch being handled are renewed. */
const EXTEND_EVERY_MS = 15_000;

/**
 * Delivers one queue's messages to the Worker's `queue` handler: it gathers a batch until
 * `maxBatchSize` messages or `maxBatchTimeoutMs` after the first, calls `deliver`, and settles
 * each message as the handler left it (acked; retried after a delay; past `maxRetries`, moved to
 * the dead-letter queue or dropped with a log line). At least once: a message is settled only
 * after the handler finished, and one whose process died in between is delivered again.
 */
export class QueueConsumer {
  readonly #settings: ConsumerSettings;
  readonly #store: QueueStore;
  readonly #deliver: (batch: MessageBatch) => Promise<void>;
  readonly #log: (message: string, error?: unknown) => void;
  readonly #stopping = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;

  /**
   * `deliver` runs the handler with the batch (and waits for its `waitUntil`s); `log` gets what
   * an operator should see: dropped messages, handler errors, warnings.
   */
  constructor(
    settings: ConsumerSettings,
    store: QueueStore,
    deliver: (batch: MessageBatch) => Promise<void>,
    log: (message: string, error?: unknown) => void,
  ) {
    this.#settings = settings;
    this.#store = store;
    this.#deliver = deliver;
    this.#log = log;
  }

  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) =>
      this.#log(`The consumer of queue ${this.#settings.queue} stopped on an error`, error),
    );
  }

  /** Stops taking messages; resolves once the batches being handled are settled. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
    await Promise.allSettled(this.#inFlight);
  }

  async #run(): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      if (this.#inFlight.size >= this.#settings.maxConcurrency) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let batch: LeasedMessage[];
      try {
        batch = await this.#gather(signal);
      } catch (error) {
        if (signal.aborted) return;
        this.#log(
          `Could not receive messages of queue ${this.#settings.queue}; trying again`,
          error,
        );
        await new Promise((resolve) => setTimeout(resolve, RETRY_RECEIVE_MS));
        continue;
      }
      if (batch.length === 0) continue;
      const handled = this.#handle(batch).finally(() => this.#inFlight.delete(handled));
      this.#inFlight.add(handled);
    }
  }

  /** Messages for one batch: the first to arrive, and what follows within the batch timeout. */
  async #gather(signal: AbortSignal): Promise<LeasedMessage[]> {
    const { queue, maxBatchSize, maxBatchTimeoutMs } = this.#settings;
    const batch = await this.#store.receive(queue, maxBatchSize, IDLE_WAIT_MS, signal);
    if (batch.length === 0) return batch;
    const deadline = performance.now() + maxBatchTimeoutMs;
    while (batch.length < maxBatchSize && !signal.aborted) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      batch.push(...(await this.#store.receive(queue, maxBatchSize - batch.length, left, signal)));
    }
    return batch;
  }

  async #handle(leased: LeasedMessage[]): Promise<void> {
    const { queue } = this.#settings;
    const outcome = new BatchOutcome((warning) => this.#log(warning));
    const extender = setInterval(
      () => void this.#store.extend(queue, leased).catch(() => {}),
      EXTEND_EVERY_MS,
    );
    let failed = false;
    try {
      await this.#deliver(new MessageBatch(queue, leased, outcome));
    } catch (error) {
      failed = true;
      this.#log(
        `The queue handler threw for a batch of ${leased.length} from queue ${queue}; its messages not acked are retried`,
        error,
      );
    } finally {
      clearInterval(extender);
    }
    try {
      await this.#settle(leased, outcome, failed);
    } catch (error) {
      this.#log(
        `Could not settle a batch of queue ${queue}; its messages will be delivered again`,
        error,
      );
    }
  }

  async #settle(leased: LeasedMessage[], outcome: BatchOutcome, failed: boolean): Promise<void> {
    const { queue, maxRetries, deadLetterQueue, retryDelaySeconds } = this.#settings;
    const acked: LeasedMessage[] = [];
    const exhausted: LeasedMessage[] = [];
    const retries = new Map<number, LeasedMessage[]>();
    for (const message of leased) {
      const settled = outcome.settle(message.id, failed);
      if (settled.ack) acked.push(message);
      else if (message.attempts > maxRetries) exhausted.push(message);
      else {
        const delayMs = (settled.delaySeconds ?? retryDelaySeconds) * 1000;
        retries.set(delayMs, [...(retries.get(delayMs) ?? []), message]);
      }
    }
    if (acked.length > 0) await this.#store.ack(queue, acked);
    for (const [delayMs, messages] of retries) await this.#store.retry(queue, messages, delayMs);
    if (exhausted.length === 0) return;
    if (deadLetterQueue !== undefined) {
      await this.#store.deadLetter(queue, exhausted, deadLetterQueue);
      return;
    }
    for (const message of exhausted) {
      this.#log(
        `Queue ${queue}: message ${message.id} was dropped after ${message.attempts} attempts (max_retries ${maxRetries}, no dead_letter_queue)`,
      );
    }
    await this.#store.ack(queue, exhausted);
  }
}
