// The queue cases every queue store runs (queues.test.ts: <dataDir>/queues.sqlite; queues-nats
// .test.ts: NATS JetStream), through createRuntime and the Worker's queue handler.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime, type RuntimeOptions } from "../../src/index.ts";
import type { Delivery } from "../fixtures/queues-worker.ts";
import { writeFiles } from "../support/app-files.ts";
import { steadError, typeError } from "../support/errors.ts";
import { storageOptions, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

export const QUEUES_WORKER = new URL("../fixtures/queues-worker.ts", import.meta.url);

/** Where a case's queues live: options for createRuntime, removed on dispose. */
export interface QueueBackend extends AsyncDisposable {
  readonly options: { queuesUrl?: string };
}

type Queues = NonNullable<RuntimeOptions["queues"]>;

async function start(backend: QueueBackend, queues: Queues, more: Partial<RuntimeOptions> = {}) {
  const rt = await createRuntime({
    main: QUEUES_WORKER,
    durableObjects: { INBOX: "Inbox", WRITER: "Writer" },
    compatibilityDate: "2026-01-01",
    queues,
    onError: () => {},
    ...storageOptions(),
    ...backend.options,
    ...more,
  });
  return rt;
}

/** What the handler recorded so far. */
export function deliveries(rt: { env: Record<string, any> }): Promise<Delivery[]> {
  return rt.env.INBOX.getByName("log").deliveries();
}

/** Waits until `count` deliveries match `where`, then returns every delivery. */
export function delivered(
  rt: { env: Record<string, any> },
  count: number,
  where: (delivery: Delivery) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Delivery[]> {
  return eventually(
    `${count} deliveries`,
    async () => {
      const all = await deliveries(rt);
      return all.filter(where).length >= count ? all : undefined;
    },
    { timeoutMs },
  );
}

const FAST = { max_batch_timeout: 0.05 };

export function queueCases(name: string, backend: () => QueueBackend): void {
  describe(`Queues (${name})`, { timeout: 60_000 }, () => {
    it("delivers what send and sendBatch stored, with ids, timestamps, attempts and content types", async () => {
      await using store = backend();
      await using rt = await start(store, {
        producers: [{ queue: "jobs", binding: "JOBS" }],
        consumers: [{ queue: "jobs", max_batch_size: 10, max_batch_timeout: 0.2 }],
      });
      const before = Date.now();
      await rt.env.JOBS.send({ n: 1 });
      await rt.env.JOBS.send("plain", { contentType: "text" });
      await rt.env.JOBS.send(new Uint8Array([1, 2, 3]), { contentType: "bytes" });
      await rt.env.JOBS.sendBatch([
        { body: new Map([["k", 1]]), contentType: "v8" },
        { body: [1, "two"], contentType: "json" },
      ]);
      const all = await delivered(rt, 5);
      assert.equal(all.length, 5);
      const bodies = all.map((d) => d.body);
      assert.deepEqual(bodies[0], { n: 1 });
      assert.ok(bodies.includes("plain"));
      assert.ok(bodies.some((b) => JSON.stringify(b) === "[1,2,3]"));
      assert.ok(bodies.some((b) => b instanceof Map && b.get("k") === 1));
      assert.ok(bodies.some((b) => JSON.stringify(b) === '[1,"two"]'));
      for (const d of all) {
        assert.equal(d.queue, "jobs");
        assert.match(d.id, /^[0-9a-f]{32}$/);
        assert.equal(d.attempts, 1);
        assert.ok(d.timestamp >= before && d.timestamp <= Date.now());
      }
      assert.equal(new Set(all.map((d) => d.id)).size, 5);
    });

    it("gathers batches up to max_batch_size", async () => {
      await using store = backend();
      await using rt = await start(store, {
        producers: [{ queue: "jobs", binding: "JOBS" }],
        consumers: [{ queue: "jobs", max_batch_size: 4, max_batch_timeout: 1 }],
      });
      await rt.env.JOBS.sendBatch(Array.from({ length: 10 }, (_, i) => ({ body: i })));
      const all = await delivered(rt, 10);
      const sizes = new Map<number, number>();
      for (const d of all) sizes.set(d.batch, d.batchSize);
      assert.ok(
        [...sizes.values()].every((size) => size <= 4),
        `batch sizes ${[...sizes.values()]}`,
      );
      assert.ok([...sizes.values()].includes(4), `a full batch among ${[...sizes.values()]}`);
      assert.deepEqual(
        all.map((d) => d.body).sort((a: any, b: any) => a - b),
        [...Array(10).keys()],
      );
    });

    it("retries a failed batch up to max_retries, then moves it to the dead-letter queue", async () => {
      await using store = backend();
      await using rt = await start(store, {
        producers: [{ queue: "jobs", binding: "JOBS" }],
        consumers: [
          { queue: "jobs", max_retries: 2, dead_letter_queue: "jobs-dlq", ...FAST },
          { queue: "jobs-dlq", ...FAST },
        ],
      });
      await rt.env.JOBS.send({ do: "fail" });
      const all = await delivered(rt, 1, (d) => d.queue === "jobs-dlq");
      const attempts = all.filter((d) => d.queue === "jobs").map((d) => d.attempts);
      assert.deepEqual(attempts, [1, 2, 3]);
      const dead = all.find((d) => d.queue === "jobs-dlq")!;
      assert.equal(dead.id, all[0]!.id);
      assert.equal(dead.attempts, 1);
      assert.deepEqual(dead.body, { do: "fail" });
    });

    it("drops a message past max_retries without a dead-letter queue, with a log line", async () => {
      await using store = backend();
      const logged: string[] = [];
      await using rt = await start(
        store,
        {
          producers: [{ queue: "jobs", binding: "JOBS" }],
          consumers: [{ queue: "jobs", max_retries: 0, ...FAST }],
        },
        { onError: (error) => logged.push(String((error as Error).message)) },
      );
      await rt.env.JOBS.send({ do: "fail" });
      const [first] = await delivered(rt, 1);
      await eventually("the drop's log line", () =>
        logged.find((line) => line.includes("dropped")),
      );
      assert.ok(
        logged.some(
          (line) =>
            line.includes("Queue jobs") && line.includes(first!.id) && line.includes("dropped"),
        ),
        logged.join("\n"),
      );
      assert.equal((await deliveries(rt)).length, 1);
    });

    it("a thrown handler retries the batch except what it acked; retry() and retryAll() retry", async () => {
      await using store = backend();
      await using rt = await start(store, {
        producers: [{ queue: "jobs", binding: "JOBS" }],
        consumers: [{ queue: "jobs", max_batch_size: 2, max_batch_timeout: 0.5, max_retries: 1 }],
      });
      await rt.env.JOBS.sendBatch([{ body: { do: "ack-then-fail" } }, { body: { n: "other" } }]);
      const all = await delivered(rt, 1, (d) => d.attempts === 2);
      await rt.env.JOBS.send({ do: "retry" });
      await rt.env.JOBS.send({ do: "retry-all" });
      // Two more, each delivered twice.
      const done = await delivered(rt, 3, (d) => d.attempts === 2);
      const seen = (body: unknown) =>
        done.filter((d) => JSON.stringify(d.body) === JSON.stringify(body)).map((d) => d.attempts);
      assert.deepEqual(seen({ do: "ack-then-fail" }), [1]);
      assert.deepEqual(seen({ n: "other" }), [1, 2]);
      assert.deepEqual(seen({ do: "retry" }), [1, 2]);
      assert.deepEqual(seen({ do: "retry-all" }), [1, 2]);
      assert.ok(all.length >= 3);
    });

    it("holds delayed messages: send's delaySeconds and retry's delaySeconds", async () => {
      await using store = backend();
      await using rt = await start(store, {
        producers: [{ queue: "jobs", binding: "JOBS" }],
        consumers: [{ queue: "jobs", max_retries: 1, ...FAST }],
      });
      const sent = Date.now();
      await rt.env.JOBS.send({ n: "later" }, { delaySeconds: 1 });
      await rt.env.JOBS.send({ do: "retry", delaySeconds: 1 });
      const all = await delivered(rt, 3);
      const later = all.find((d) => JSON.stringify(d.body) === '{"n":"later"}')!;
      assert.ok(later.at - sent >= 1000, `delivered ${later.at - sent} ms after send`);
      const retried = all.filter((d) => (d.body as any).do === "retry");
      assert.equal(retried.length, 2);
      assert.ok(retried[1]!.at - retried[0]!.at >= 1000, "retried after its delay");
    });

    it("keeps what send acknowledged across a restart, and delivers it then", async () => {
      using data = testStore();
      await using store = backend();
      {
        await using rt = await start(
          store,
          { producers: [{ queue: "jobs", binding: "JOBS" }] },
          data.options,
        );
        await rt.env.JOBS.send({ n: "kept" });
      }
      await using rt = await start(
        store,
        { consumers: [{ queue: "jobs", ...FAST }] },
        data.options,
      );
      const [d] = await delivered(rt, 1);
      assert.deepEqual(d!.body, { n: "kept" });
    });

    it("refuses what Cloudflare refuses, with its errors", async () => {
      await using store = backend();
      await using rt = await start(store, { producers: [{ queue: "jobs", binding: "JOBS" }] });
      const q = rt.env.JOBS;
      await assert.rejects(q.send(undefined), typeError("Message body cannot be undefined"));
      await assert.rejects(q.sendBatch([]), typeError("sendBatch() requires at least one message"));
      await assert.rejects(
        q.send("x", { contentType: "yaml" }),
        typeError("Unsupported queue message content type: yaml"),
      );
      await assert.rejects(
        q.send(1, { contentType: "text" }),
        typeError('Content Type "text" requires a value of type string, but received: number'),
      );
      await assert.rejects(q.send("x".repeat(128_001), { contentType: "text" }), {
        message: "Queue send failed: message length of 128001 bytes exceeds limit of 128000",
      });
      await assert.rejects(q.sendBatch(Array.from({ length: 101 }, () => ({ body: 1 }))), {
        message: "Queue sendBatch failed: batch message count of 101 exceeds limit of 100",
      });
      await assert.rejects(
        q.sendBatch(
          Array.from({ length: 3 }, () => ({ body: "x".repeat(100_000), contentType: "text" })),
        ),
        { message: "Queue sendBatch failed: batch size of 300000 bytes exceeds limit of 256000" },
      );
      await assert.rejects(q.send(1, { delaySeconds: 43_201 }), /Queue send failed: delaySeconds/);
    });

    it("calls the queue() method of a WorkerEntrypoint default export", async () => {
      await using store = backend();
      using app = tempDataDir("stead-queue-entrypoint-");
      writeFiles(app.path, {
        "worker.js": `import { WorkerEntrypoint } from "cloudflare:workers";
export { Inbox, Writer } from ${JSON.stringify(QUEUES_WORKER.pathname)};
export default class extends WorkerEntrypoint {
  async fetch() { return new Response("ok"); }
  async queue(batch) {
    await this.env.INBOX.getByName("log").record(batch.messages.map((m) => ({ queue: batch.queue, id: m.id, body: m.body, attempts: m.attempts, timestamp: m.timestamp.getTime(), batch: 0, batchSize: batch.messages.length, at: Date.now() })));
  }
}`,
      });
      await using rt = await start(
        store,
        {
          producers: [{ queue: "jobs", binding: "JOBS" }],
          consumers: [{ queue: "jobs", ...FAST }],
        },
        { main: `${app.path}/worker.js` },
      );
      await rt.env.JOBS.send("hi", { contentType: "text" });
      const [d] = await delivered(rt, 1);
      assert.equal(d!.body, "hi");
    });

    it("refuses a consumer without a queue handler, and bad queue options, naming the option", async () => {
      await using store = backend();
      using app = tempDataDir("stead-queue-nohandler-");
      writeFiles(app.path, {
        "worker.js": `export default { fetch() { return new Response("ok"); } };`,
      });
      await assert.rejects(
        createRuntime({
          main: `${app.path}/worker.js`,
          queues: { consumers: [{ queue: "jobs" }] },
          ...store.options,
        }),
        steadError("INVALID_CONFIG", 'queues.consumers[0]: queue "jobs"', "no queue() handler"),
      );
      await assert.rejects(
        createRuntime({
          main: `${app.path}/worker.js`,
          queues: { consumers: [{ queue: "jobs", max_batch_size: 101 }] },
        }),
        steadError(
          "INVALID_CONFIG",
          "queues.consumers.0.max_batch_size: must be a whole number from 1 to 100",
        ),
      );
      await assert.rejects(
        createRuntime({
          main: `${app.path}/worker.js`,
          queues: { producers: [{ queue: "Bad Name", binding: "Q" }] },
        }),
        steadError("INVALID_CONFIG", "queues.producers.0.queue: must be a queue name"),
      );
    });
  });
}
