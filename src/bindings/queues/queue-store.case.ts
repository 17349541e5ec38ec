// The QueueStore contract, written once and run against each store (sqlite-queue-store.test.ts,
// nats-queue-store.test.ts): what a consumer relies on, whatever keeps the messages.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { LeasedMessage, NewMessage, QueueStore } from "./queue-store.ts";

/** A store to test, and how to let go of it. */
export interface StoreUnderTest extends AsyncDisposable {
  readonly store: QueueStore;
}

const encoder = new TextEncoder();
const never = new AbortController().signal;

function message(text: string, delayMs = 0, id = randomUUID().replaceAll("-", "")): NewMessage {
  return { id, timestamp: Date.now(), contentType: "text", body: encoder.encode(text), delayMs };
}

const text = (leased: readonly LeasedMessage[]) =>
  leased.map((m) => new TextDecoder().decode(m.body));

/** A receive long enough to see messages coming back from a retry (see `QueueStore.receive`). */
const LONG_WAIT_MS = 2_500;

/** Receives until `count` messages came or `timeoutMs` passed. */
async function receiveAll(
  store: QueueStore,
  queue: string,
  count: number,
  timeoutMs = 10_000,
): Promise<LeasedMessage[]> {
  const got: LeasedMessage[] = [];
  const deadline = performance.now() + timeoutMs;
  while (got.length < count && performance.now() < deadline) {
    got.push(...(await store.receive(queue, count - got.length, LONG_WAIT_MS, never)));
  }
  return got;
}

export function queueStoreCases(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`QueueStore: ${name}`, { timeout: 60_000 }, () => {
    it("delivers what was sent, oldest first, with its id, timestamp, type and attempts", async () => {
      await using t = await open();
      const first = message("one");
      await t.store.send("a", [first, message("two")]);
      await t.store.send("a", [message("three")]);
      const got = await receiveAll(t.store, "a", 3);
      assert.deepEqual(text(got), ["one", "two", "three"]);
      assert.equal(got[0]!.id, first.id);
      assert.equal(got[0]!.timestamp, first.timestamp);
      assert.equal(got[0]!.contentType, "text");
      assert.deepEqual(
        got.map((m) => m.attempts),
        [1, 1, 1],
      );
      await t.store.ack("a", got);
    });

    it("keeps queues apart, and a message sent twice under one id once", async () => {
      await using t = await open();
      const twice = message("once");
      await t.store.send("a", [twice]);
      await t.store.send("a", [twice]);
      await t.store.send("b", [message("for b")]);
      const a = await receiveAll(t.store, "a", 2, 2_500);
      assert.deepEqual(text(a), ["once"]);
      assert.deepEqual(text(await receiveAll(t.store, "b", 1)), ["for b"]);
    });

    it("leases: a received message is not received again until settled; acked ones are gone", async () => {
      await using t = await open();
      await t.store.send("a", [message("x"), message("y")]);
      const leased = await receiveAll(t.store, "a", 2);
      assert.deepEqual(await t.store.receive("a", 10, 500, never), []);
      await t.store.extend("a", leased);
      await t.store.ack("a", [leased[0]!]);
      await t.store.retry("a", [leased[1]!], 0);
      const again = await receiveAll(t.store, "a", 1);
      assert.deepEqual(text(again), ["y"]);
      assert.equal(again[0]!.attempts, 2);
      await t.store.ack("a", again);
      assert.deepEqual(await t.store.receive("a", 10, 500, never), []);
    });

    it("holds a delayed send and a delayed retry until they are due", async () => {
      await using t = await open();
      const sent = performance.now();
      await t.store.send("a", [message("later", 2_000)]);
      const later = await receiveAll(t.store, "a", 1);
      assert.ok(performance.now() - sent >= 1_900, `due after ${performance.now() - sent} ms`);
      const retried = performance.now();
      await t.store.retry("a", later, 2_000);
      const again = await receiveAll(t.store, "a", 1);
      assert.ok(
        performance.now() - retried >= 1_900,
        `due after ${performance.now() - retried} ms`,
      );
      assert.equal(again[0]!.attempts, 2);
    });

    it("moves dead letters to another queue, attempts counted from there", async () => {
      await using t = await open();
      const sent = message("dead");
      await t.store.send("a", [sent]);
      const leased = await receiveAll(t.store, "a", 1);
      await t.store.deadLetter("a", leased, "a-dlq");
      const dead = await receiveAll(t.store, "a-dlq", 1);
      assert.deepEqual(text(dead), ["dead"]);
      assert.equal(dead[0]!.id, sent.id);
      assert.equal(dead[0]!.timestamp, sent.timestamp);
      assert.equal(dead[0]!.attempts, 1);
      assert.deepEqual(await t.store.receive("a", 10, 500, never), []);
    });

    it("a receive waiting for messages ends when its signal aborts", async () => {
      await using t = await open();
      const stop = new AbortController();
      const waiting = t.store.receive("idle", 10, 30_000, stop.signal);
      stop.abort();
      const started = performance.now();
      assert.deepEqual(await waiting, []);
      assert.ok(performance.now() - started < 5_000);
    });
  });
}
