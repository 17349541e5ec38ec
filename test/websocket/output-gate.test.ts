import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LocalDriver } from "../../src/index.ts";
import { Flushes, NEEDS_FLUSH_HOOKS } from "../support/durability-harness.ts";
import { isPending } from "../support/event-loop.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { LIMIT, startWs } from "../support/ws-harness.ts";

/** The fixture app on a local driver whose flushes the test holds and fails. */
async function startGated() {
  const dir = tempDataDir("stead-ws-gate-");
  const flushes = new Flushes();
  const t = await startWs({
    driver: new LocalDriver({ dataDir: dir.path, beforeFlush: flushes.hook }),
  });
  return {
    ...t,
    flushes,
    async [Symbol.asyncDispose]() {
      flushes.releaseAll();
      await t[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

describe("WebSocket sends and the output gate", NEEDS_FLUSH_HOOKS, () => {
  it(
    "holds a hibernatable socket's send after a write until the write is durable",
    LIMIT,
    async () => {
      await using t = await startGated();
      const id = t.runtime.env.ROOM.idFromName("gated").toString();
      const client = await t.connect("/room/gated");
      assert.equal(await client.ask("echo warm"), "warm");

      t.flushes.hold(id);
      const flushed = t.flushes.count(id);
      client.ws.send("put v1");
      client.ws.send("echo after");
      await t.flushes.started(id, flushed + 1);
      const stored = client.text("the held reply");
      assert.equal(await isPending(stored, 30), true, "the send left before the write was durable");
      assert.equal(client.pending, 0, "nothing sent after the write got out either");

      t.flushes.release(id);
      assert.equal(await stored, "stored v1");
      assert.equal(await client.text(), "after", "later sends stay behind it, in order");
      assert.equal(await client.ask("get"), "v1");
    },
  );

  it("holds a standard socket's send after a write the same way", LIMIT, async () => {
    await using t = await startGated();
    const id = t.runtime.env.STANDARD.idFromName("gated").toString();
    const client = await t.connect("/standard/gated");
    assert.equal(await client.ask("warm"), "echo warm");

    t.flushes.hold(id);
    client.ws.send("put v2");
    await t.flushes.started(id, 1);
    const stored = client.text("the held reply");
    assert.equal(await isPending(stored, 30), true);
    t.flushes.release(id);
    assert.equal(await stored, "stored v2");
  });

  it(
    "drops the held send and closes the socket with 1011 when the write fails",
    LIMIT,
    async () => {
      await using t = await startGated();
      const id = t.runtime.env.ROOM.idFromName("failing").toString();
      const client = await t.connect("/room/failing");
      assert.equal(await client.ask("echo warm"), "warm");

      t.flushes.fail(id);
      client.ws.send("put lost");
      const closed = await client.waitClosed();
      assert.equal(closed.code, 1011);
      assert.equal(client.pending, 0, "the message sent after the failed write was never seen");
    },
  );
});
