import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seen } from "../fixtures/ws-worker.ts";
import { rawExchange } from "../support/http-harness.ts";
import { waitFor } from "../support/wait-for.ts";
import { LIMIT, startWs, TestClient } from "../support/ws-harness.ts";

describe("WebSocket upgrades over HTTP", () => {
  it("writes a non-101 answer to an upgrade request as plain HTTP", LIMIT, async () => {
    await using t = await startWs();
    await assert.rejects(TestClient.connect(t.url("/forbidden/"), undefined), {
      status: 403,
      body: "no sockets for you",
    });
    await assert.rejects(TestClient.connect(t.url("/nowhere/"), undefined), { status: 404 });
  });

  it("answers 500 when the Worker throws or returns an unusable socket", LIMIT, async () => {
    const errors: unknown[] = [];
    await using t = await startWs({}, { onError: (error) => errors.push(error) });
    await assert.rejects(TestClient.connect(t.url("/throw/"), undefined), { status: 500 });
    await assert.rejects(TestClient.connect(t.url("/accepted/"), undefined), { status: 500 });
    assert.deepEqual(
      errors.map((e) => (e as Error).message),
      ["the Worker failed", "Can't return WebSocket in a Response after calling accept()."],
    );
  });

  it("confirms only the subprotocol the Worker chose", LIMIT, async () => {
    await using t = await startWs();
    const client = await t.connect("/echo/?protocol=superchat", {
      protocols: ["chat", "superchat"],
    });
    assert.equal(client.ws.protocol, "superchat");
    assert.equal(await client.ask("hi"), "echo hi");
  });

  it("works with Node's own WebSocket client", LIMIT, async () => {
    await using t = await startWs();
    const ws = new WebSocket(t.url("/room/node-client"));
    const answer = new Promise<string>((resolve, reject) => {
      ws.addEventListener("message", (event) => resolve(String(event.data)));
      ws.addEventListener("error", () => reject(new Error("the connection failed")));
    });
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.send("echo from undici");
    assert.equal(await answer, "from undici");
    const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
    ws.close(3001, "bye");
    const event = await closed;
    assert.deepEqual([event.code, event.reason], [3001, "bye"]);
  });

  it("tells the object the connection dropped when the handshake is invalid", LIMIT, async () => {
    await using t = await startWs();
    const answer = await rawExchange(
      t.server.address.port,
      "GET /room/bad-handshake?user=mallory HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    );
    assert.match(answer, /^HTTP\/1\.1 400 /);
    await waitFor(() => seen.some((s) => s.object === "bad-handshake"), "webSocketClose");
    assert.deepEqual(
      seen.filter((s) => s.object === "bad-handshake").map((s) => [s.code, s.wasClean, s.user]),
      [[1006, false, "mallory"]],
    );
  });
});
