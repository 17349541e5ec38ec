import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LocalDriver, ManualClock } from "../../src/index.ts";
import { constructed, seen } from "../fixtures/ws-worker.ts";
import { isPending, turn } from "../support/event-loop.ts";
import { skipUnless } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { waitFor } from "../support/wait-for.ts";
import { LIMIT, startWs } from "../support/ws-harness.ts";

describe("WebSocket Hibernation API", () => {
  it(
    "hibernates an idle object with open sockets and wakes it for the next message",
    LIMIT,
    async () => {
      const clock = new ManualClock();
      await using t = await startWs({ clock });
      const alice = await t.connect("/room/hib?user=alice&tag=red&tag=admin");
      const bob = await t.connect("/room/hib?user=bob&tag=blue");

      assert.deepEqual(JSON.parse(await alice.ask("whoami")), {
        attachment: { user: "alice" },
        tags: ["red", "admin"],
        memory: 1,
        constructed: 1,
      });
      await turn();
      await clock.advance(9_999);
      assert.equal(JSON.parse(await alice.ask("whoami")).memory, 2, "not hibernated before 10 s");

      await turn();
      await clock.advance(10_000);
      assert.equal(constructed.get("hib"), 1, "hibernation itself runs no code");
      const woken = JSON.parse(await bob.ask("whoami"));
      assert.deepEqual(woken, {
        attachment: { user: "bob" },
        tags: ["blue"],
        memory: 1,
        constructed: 2,
      });
      assert.equal(await alice.ask("count"), "2", "getWebSockets() sees both sockets after waking");
      assert.equal(await alice.ask("count red"), "1");
      assert.equal(await alice.ask("count nobody"), "0");

      alice.ws.send("broadcast hello, room");
      assert.equal(await alice.text(), "hello, room");
      assert.equal(await bob.text(), "hello, room");
      assert.equal(alice.ws.readyState, alice.ws.OPEN, "the sockets never closed");
      assert.equal(bob.ws.readyState, bob.ws.OPEN);
    },
  );

  it("closes the database of a hibernated object and reopens it on waking", {
    ...LIMIT,
    skip: skipUnless("localFiles", "counts the database files the local driver holds open"),
  }, async () => {
    const clock = new ManualClock();
    using dir = tempDataDir();
    const driver = new LocalDriver({ dataDir: dir.path });
    await using t = await startWs({ clock, driver });
    const alice = await t.connect("/room/hib-db?user=alice");
    assert.equal(await alice.ask("put kept"), "stored kept");
    assert.equal(await alice.ask("get"), "kept");
    assert.equal(driver.openDatabases, 1);
    await turn();
    await clock.advance(10_000);
    assert.equal(driver.openDatabases, 0, "a hibernated object holds no SQLite connection");
    assert.equal(await alice.ask("get"), "kept", "woken, it reads its data again");
    assert.equal(driver.openDatabases, 1);
  });

  it("keeps attachments changed before hibernation", LIMIT, async () => {
    const clock = new ManualClock();
    await using t = await startWs({ clock, objects: { hibernateAfterMs: 1_000 } });
    const client = await t.connect("/room/attach?user=carol");
    assert.equal(await client.ask("rename caroline"), "renamed");
    await turn();
    await clock.advance(1_000);
    const after = JSON.parse(await client.ask("whoami"));
    assert.equal(after.constructed, 2, "hibernated after the configured hibernateAfterMs");
    assert.deepEqual(after.attachment, { user: "caroline" });
  });

  it("answers the auto-response without waking the object", LIMIT, async () => {
    const clock = new ManualClock();
    await using t = await startWs({ clock });
    const client = await t.connect("/room/auto");
    assert.equal(await client.ask("auto"), "auto on");
    await turn();
    await clock.advance(10_000);
    const before = constructed.get("auto");

    await clock.advance(5);
    const pingedAt = clock.now();
    assert.equal(await client.ask("ping"), "pong");
    assert.equal(await client.ask("ping"), "pong");
    assert.equal(constructed.get("auto"), before, "the auto-response did not construct the object");

    // Protocol pings are answered by the server and do not reach the object either.
    const pong = new Promise<void>((resolve) => client.ws.once("pong", () => resolve()));
    client.ws.ping();
    await pong;
    assert.equal(constructed.get("auto"), before);

    assert.equal(await client.ask("autotime"), String(pingedAt));
    assert.equal(constructed.get("auto"), (before ?? 0) + 1, "a real message woke it");
  });

  it(
    "delivers webSocketClose with the code, reason and wasClean, and the reply reaches the client",
    LIMIT,
    async () => {
      await using t = await startWs();
      const client = await t.connect("/room/close?user=dave");
      client.ws.close(4000, "bye");
      assert.deepEqual(await client.waitClosed(), { code: 4000, reason: "bye" });
      await waitForSeen((s) => s.object === "close");
      assert.deepEqual(
        seen.filter((s) => s.object === "close"),
        [
          {
            object: "close",
            event: "close",
            code: 4000,
            reason: "bye",
            wasClean: true,
            user: "dave",
          },
        ],
      );

      const kicked = await t.connect("/room/close?user=erin");
      kicked.ws.send("close 4001 kicked out");
      assert.deepEqual(await kicked.waitClosed(), { code: 4001, reason: "kicked out" });
      await waitForSeen((s) => s.object === "close" && s.user === "erin");

      const dropped = await t.connect("/room/close?user=frank");
      assert.equal(await dropped.ask("count"), "1", "closed sockets are gone from getWebSockets()");
      dropped.ws.terminate();
      await waitForSeen((s) => s.object === "close" && s.user === "frank");
      assert.deepEqual(
        seen.findLast((s) => s.user === "frank"),
        {
          object: "close",
          event: "close",
          code: 1006,
          reason: "WebSocket disconnected without sending Close frame.",
          wasClean: false,
          user: "frank",
        },
      );
    },
  );

  it("wakes a hibernated object to deliver a close", LIMIT, async () => {
    const clock = new ManualClock();
    await using t = await startWs({ clock });
    const client = await t.connect("/room/wake-close?user=gina");
    assert.equal(await client.ask("echo hi"), "hi");
    await turn();
    await clock.advance(10_000);
    client.ws.close(1000, "done");
    assert.deepEqual(await client.waitClosed(), { code: 1000, reason: "done" });
    await waitForSeen((s) => s.object === "wake-close");
    assert.equal(constructed.get("wake-close"), 2);
  });

  it(
    "delivers a socket's messages one at a time, moving on after the event timeout",
    LIMIT,
    async () => {
      const clock = new ManualClock();
      await using t = await startWs({ clock });
      const slow = await t.connect("/room/timeout");
      const other = await t.connect("/room/timeout");
      assert.equal(await slow.ask("timeout 1000"), "timeout 1000");
      slow.ws.send("hang");
      slow.ws.send("echo after the hang");
      assert.equal(await other.ask("echo meanwhile"), "meanwhile", "other sockets are not held up");
      const after = slow.text();
      assert.equal(await isPending(after, 30), true, "the hanging socket's next message waits");
      await clock.advance(1_000);
      assert.equal(await after, "after the hang");
      assert.equal(t.errors.length, 1);
      assert.match(t.errors[0]!.context, /^webSocketMessage\(\) of Room [0-9a-f]{64}$/);
      assert.equal(
        (t.errors[0]!.error as Error).message,
        "The webSocketMessage() handler ran longer than the hibernatable WebSocket event timeout (1000 ms); the next event of the socket was delivered. Raise it with ctx.setHibernatableWebSocketEventTimeout().",
      );
    },
  );

  it("broadcasts to many sockets", LIMIT, async () => {
    await using t = await startWs();
    const clients = await Promise.all(
      Array.from({ length: 50 }, (_, i) => t.connect(`/room/crowd?user=u${i}`)),
    );
    assert.equal(await clients[0]!.ask("count"), "50");
    clients[7]!.ws.send("broadcast to everyone");
    const received = await Promise.all(clients.map((client) => client.text()));
    assert.deepEqual(new Set(received), new Set(["to everyone"]));
  });

  it("closes hibernatable sockets with 1011 when the object is reset", LIMIT, async () => {
    await using t = await startWs();
    const first = await t.connect("/room/reset");
    const second = await t.connect("/room/reset");
    first.ws.send("abort");
    assert.equal((await first.waitClosed()).code, 1011);
    assert.equal((await second.waitClosed()).code, 1011);
    const again = await t.connect("/room/reset");
    assert.equal(await again.ask("count"), "1", "the new instance starts with no sockets");
  });

  it("closes sockets with 1012 when the runtime is disposed", LIMIT, async () => {
    const t = await startWs();
    try {
      const client = await t.connect("/room/shutdown");
      assert.equal(await client.ask("echo up"), "up");
      await t.runtime.dispose();
      assert.equal((await client.waitClosed()).code, 1012);
    } finally {
      await t[Symbol.asyncDispose]();
    }
  });
});

function waitForSeen(match: (entry: (typeof seen)[number]) => boolean): Promise<void> {
  return waitFor(() => seen.some(match), "a handler call");
}
