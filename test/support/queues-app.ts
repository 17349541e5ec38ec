// The queue app the end-to-end and crash tests run through `stead start`: the queue fixture
// (test/fixtures/queues-worker.ts) with a producer, a consumer and a dead-letter queue.
import type { Delivery } from "../fixtures/queues-worker.ts";
import { eventually } from "./wait-for.ts";

const WORKER = new URL("../fixtures/queues-worker.ts", import.meta.url).pathname;

/** The app's wrangler.jsonc: a producer, a consumer with a dead-letter queue, and its consumer. */
export function queuesConfig(consumer: Record<string, unknown> = {}): string {
  return JSON.stringify({
    name: "queues-app",
    main: WORKER,
    compatibility_date: "2026-01-01",
    durable_objects: {
      bindings: [
        { name: "INBOX", class_name: "Inbox" },
        { name: "WRITER", class_name: "Writer" },
      ],
    },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Inbox", "Writer"] }],
    queues: {
      producers: [{ queue: "jobs", binding: "JOBS" }],
      consumers: [
        {
          queue: "jobs",
          // One message a batch: the failing one fails alone.
          max_batch_size: 1,
          max_batch_timeout: 0.1,
          max_retries: 1,
          dead_letter_queue: "jobs-dlq",
          ...consumer,
        },
        { queue: "jobs-dlq", max_batch_timeout: 0.1 },
      ],
    },
  });
}

/** Waits until the app recorded deliveries that `done` accepts; returns them all. */
export function deliveriesWhen(
  url: string,
  what: string,
  done: (all: Delivery[]) => boolean,
): Promise<Delivery[]> {
  return eventually(
    what,
    async () => {
      const all = (await (await fetch(`${url}/deliveries`)).json()) as Delivery[];
      return done(all) ? all : undefined;
    },
    { timeoutMs: 15_000 },
  );
}
