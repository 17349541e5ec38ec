import assert from "node:assert/strict";
import { it } from "node:test";
import { createRuntime } from "../../src/index.ts";
import { steadError } from "../support/errors.ts";
import { freePort } from "../support/free-port.ts";
import { natsQueues } from "../support/nats.ts";
import { QUEUES_WORKER, queueCases } from "./queues.case.ts";

// Queues in NATS JetStream (queuesUrl), a stream of their own per test.
queueCases("NATS JetStream", () => {
  const nats = natsQueues();
  return {
    options: { queuesUrl: nats.queuesUrl },
    [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose](),
  };
});

it("a NATS server that does not answer stops the start with QUEUE_UNAVAILABLE", async () => {
  const port = await freePort();
  await assert.rejects(
    createRuntime({
      main: QUEUES_WORKER,
      durableObjects: { INBOX: "Inbox", WRITER: "Writer" },
      queues: { producers: [{ queue: "jobs", binding: "JOBS" }] },
      queuesUrl: `nats://127.0.0.1:${port}`,
    }),
    steadError("QUEUE_UNAVAILABLE", `Could not connect to NATS at 127.0.0.1:${port} for queues`),
  );
});
