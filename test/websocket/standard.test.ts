import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/index.ts";
import { constructed, seen } from "../fixtures/ws-worker.ts";
import { turn } from "../support/event-loop.ts";
import { waitFor } from "../support/wait-for.ts";
import { LIMIT, startWs, startWsRuntime } from "../support/ws-harness.ts";

describe("WebSocket standard API", () => {
  it("echoes through a Worker over a real connection, text and binary", LIMIT, async () => {
    await using t = await startWs();
    const client = await t.connect("/echo/");
    assert.equal(await client.ask("hello"), "echo hello");
    client.ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual([...((await client.next()) as Buffer)], [1, 2, 3]);
    client.ws.close(1000, "done");
    assert.deepEqual(await client.waitClosed(), { code: 1000, reason: "done" });
  });

  it("echoes through an object reached with stub.fetch and the Upgrade header", LIMIT, async () => {
    await using t = await startWs();
    const client = await t.connect("/standard/echo");
    assert.equal(await client.ask("one"), "echo one");
    assert.equal(await client.ask("two"), "echo two");
    client.ws.close(4005, "leaving");
    assert.deepEqual(await client.waitClosed(), { code: 4005, reason: "leaving" });
    await waitFor(() => seen.some((s) => s.object === "echo"), "the object's close event");
    assert.deepEqual(
      seen.filter((s) => s.object === "echo"),
      [{ object: "echo", event: "close", code: 4005, reason: "leaving", wasClean: true }],
    );
  });

  it(
    "keeps an object with an accepted socket in memory, and evicts it once closed",
    LIMIT,
    async () => {
      const clock = new ManualClock();
      await using t = await startWs({ clock, objects: { idleTimeoutMs: 1_000 } });
      const client = await t.connect("/standard/pinned");
      assert.equal(await client.ask("memory"), "1");
      await turn();
      await clock.advance(60_000);
      assert.equal(await client.ask("memory"), "2", "not evicted nor hibernated while open");
      assert.equal(constructed.get("pinned"), 1);

      client.ws.close(1000);
      await client.waitClosed();
      await waitFor(() => seen.some((s) => s.object === "pinned"), "the close event");
      await turn();
      await clock.advance(1_000);
      const again = await t.connect("/standard/pinned");
      assert.equal(await again.ask("memory"), "1", "evicted after the socket closed");
      assert.equal(constructed.get("pinned"), 2);
    },
  );

  it("joins a pair in-process: events, auto-reply to close and readyState", LIMIT, async () => {
    await using rt = await startWsRuntime();
    const response = await rt.fetch("http://app/echo/", { headers: { Upgrade: "websocket" } });
    assert.equal(response.status, 101);
    assert.ok(response instanceof Response);
    const ws = response.webSocket!;
    assert.equal(ws.readyState, WebSocket.OPEN);
    ws.accept();
    const messages: unknown[] = [];
    ws.addEventListener("message", (event) => messages.push(event.data));
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
    ws.send("in process");
    ws.send(new Uint8Array([9, 8]));
    await waitFor(() => messages.length === 2, "two echoes");
    assert.equal(messages[0], "echo in process");
    assert.ok(messages[1] instanceof ArrayBuffer, "binary data is an ArrayBuffer by default");
    assert.deepEqual([...new Uint8Array(messages[1] as ArrayBuffer)], [9, 8]);

    ws.close(3000, "client done");
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const event = await closed;
    // The server end answered the close frame for us (web_socket_auto_reply_to_close).
    assert.deepEqual([event.code, event.reason, event.wasClean], [3000, "client done", true]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    ws.close(1000);
    assert.throws(() => ws.send("late"), {
      name: "TypeError",
      message: "Can't call WebSocket send() after close().",
    });
  });

  it("keeps WebSocketPair, Response and instanceof working as on Cloudflare", () => {
    const pair = new WebSocketPair();
    const [client, server] = Object.values(pair);
    assert.equal(client, pair[0]);
    assert.equal(server, pair[1]);
    assert.deepEqual([...pair], [client, server]);

    const upgrade = new Response(null, { status: 101, webSocket: client });
    assert.equal(upgrade.status, 101);
    assert.equal(upgrade.webSocket, client);
    assert.equal(upgrade.ok, false);
    assert.ok(upgrade instanceof Response);

    const plain = new Response("hi", { status: 201 });
    assert.equal(plain.webSocket, null);
    assert.ok(Response.json({ a: 1 }) instanceof Response, "Node's own responses still pass");
    assert.throws(() => new Response(null, { status: 200, webSocket: server }), {
      name: "RangeError",
      message: "Responses with a WebSocket must have status code 101.",
    });
    assert.throws(() => new Response(null, { status: 101 }), {
      name: "RangeError",
      message:
        "Responses may only be constructed with status codes in the range 200 to 599, inclusive.",
    });
  });

  it("delivers the events of a socket accepted in an object through its queue", LIMIT, async () => {
    await using rt = await startWsRuntime();
    const response: Response = await rt.env.STANDARD.getByName("in-process").fetch("http://do/", {
      headers: { Upgrade: "websocket" },
    });
    const ws = response.webSocket!;
    ws.accept();
    const replies: string[] = [];
    ws.addEventListener("message", (event) => replies.push(String(event.data)));
    for (const word of ["a", "b", "c", "memory", "memory"]) ws.send(word);
    await waitFor(() => replies.length === 5, "five replies");
    assert.deepEqual(replies, ["echo a", "echo b", "echo c", "1", "2"], "in order");
  });
});
