// The NATS JetStream server the queue tests keep queues in (scripts/ensure-nats.sh starts one at
// 127.0.0.1:4222; STEAD_TEST_NATS_URL names another). Each test's queues get a prefix of their
// own, so a stream of its own, deleted when the test ends.
import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

export const NATS_TEST_URL = process.env.STEAD_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A `queuesUrl` of a fresh prefix (stream `<PREFIX>_QUEUES`), whose stream is deleted on dispose. */
export interface NatsQueues extends AsyncDisposable {
  readonly queuesUrl: string;
}

export function natsQueues(): NatsQueues {
  const prefix = `t${randomBytes(6).toString("hex")}`;
  const url = new URL(NATS_TEST_URL);
  return {
    queuesUrl: `${url.protocol}//${url.host}?prefix=${prefix}`,
    async [Symbol.asyncDispose]() {
      const nc = await connect({ servers: url.host });
      try {
        const jsm = await jetstreamManager(nc);
        await jsm.streams.delete(`${prefix.toUpperCase()}_QUEUES`).catch(() => {});
      } finally {
        await nc.close();
      }
    },
  };
}
