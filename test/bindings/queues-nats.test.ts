import { natsQueues } from "../support/nats.ts";
import { queueCases } from "./queues.case.ts";

// Queues in NATS JetStream (queuesUrl), a stream of their own per test.
queueCases("NATS JetStream", () => {
  const nats = natsQueues();
  return {
    options: { queuesUrl: nats.queuesUrl },
    [Symbol.asyncDispose]: () => nats[Symbol.asyncDispose](),
  };
});
