// What a batch's explicit calls decide for each message, and workerd's warnings when they
// contradict each other (the later call has no effect).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchOutcome, MessageBatch } from "./queue-batch.ts";
import type { LeasedMessage } from "./queue-store.ts";

function leased(id: string, body: unknown): LeasedMessage {
  return {
    id,
    timestamp: 1_700_000_000_000,
    contentType: "json",
    body: new TextEncoder().encode(JSON.stringify(body)),
    attempts: 2,
  };
}

function batchOf(...ids: string[]) {
  const warnings: string[] = [];
  const outcome = new BatchOutcome((warning) => warnings.push(warning));
  const batch = new MessageBatch(
    "jobs",
    ids.map((id) => leased(id, { id })),
    outcome,
  );
  return { batch, outcome, warnings };
}

describe("MessageBatch", () => {
  it("shows each message's id, timestamp, body and attempts", () => {
    const { batch } = batchOf("a");
    assert.equal(batch.queue, "jobs");
    const [message] = batch.messages;
    assert.equal(message!.id, "a");
    assert.deepEqual(message!.timestamp, new Date(1_700_000_000_000));
    assert.deepEqual(message!.body, { id: "a" });
    assert.equal(message!.attempts, 2);
    assert.ok(Object.isFrozen(batch.messages));
  });

  it("a returning handler acks what it did not retry; a throwing one retries what it did not ack", () => {
    const { batch, outcome } = batchOf("a", "b", "c");
    batch.messages[0]!.ack();
    batch.messages[1]!.retry({ delaySeconds: 7 });
    assert.deepEqual(outcome.settle("a", false), { ack: true });
    assert.deepEqual(outcome.settle("b", false), { ack: false, delaySeconds: 7 });
    assert.deepEqual(outcome.settle("c", false), { ack: true });
    assert.deepEqual(outcome.settle("a", true), { ack: true });
    assert.deepEqual(outcome.settle("c", true), { ack: false, delaySeconds: undefined });
  });

  it("retryAll retries what was not acked; ackAll acks everything", () => {
    const retried = batchOf("a", "b");
    retried.batch.messages[0]!.ack();
    retried.batch.retryAll({ delaySeconds: 3 });
    assert.deepEqual(retried.outcome.settle("a", false), { ack: true });
    assert.deepEqual(retried.outcome.settle("b", false), { ack: false, delaySeconds: 3 });
    const acked = batchOf("a", "b");
    acked.batch.messages[0]!.retry();
    acked.batch.ackAll();
    assert.deepEqual(acked.outcome.settle("b", true), { ack: true });
  });

  it("warns, as workerd does, when a later call contradicts an earlier one", () => {
    const { batch, outcome, warnings } = batchOf("a", "b");
    batch.messages[0]!.ack();
    batch.messages[0]!.retry();
    batch.messages[1]!.retry();
    batch.messages[1]!.ack();
    batch.retryAll();
    batch.ackAll();
    assert.deepEqual(warnings, [
      "Received a call to retry() on message a after ack() was already called. Calling retry() on a message after calling ack() has no effect.",
      "Received a call to ack() on message b after retry() was already called. Calling ack() on a message after calling retry() has no effect.",
      "Received a call to ackAll() after retryAll() was already called. Calling ackAll() after calling retryAll() has no effect.",
    ]);
    assert.deepEqual(outcome.settle("a", false), { ack: true });
    assert.deepEqual(outcome.settle("b", false), { ack: false, delaySeconds: undefined });
  });
});
