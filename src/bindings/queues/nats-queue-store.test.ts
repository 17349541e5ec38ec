import { natsQueues } from "../../../test/support/nats.ts";
import { NatsQueueStore, parseNatsUrl } from "./nats-queue-store.ts";
import { queueStoreCases } from "./queue-store.case.ts";

// The store on the test NATS server (scripts/ensure-nats.sh), a stream of its own per case.
queueStoreCases("NATS JetStream", async () => {
  const nats = natsQueues();
  const store = await NatsQueueStore.open(parseNatsUrl(nats.queuesUrl, "queuesUrl"), {
    consumerSide: true,
  });
  return {
    store,
    async [Symbol.asyncDispose]() {
      await store.close();
      await nats[Symbol.asyncDispose]();
    },
  };
});
