import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInDurableObject } from "../../src/testing/index.ts";
import { seen } from "../fixtures/ws-worker.ts";
import { waitFor } from "../support/wait-for.ts";
import { LIMIT, startWs, startWsRuntime } from "../support/ws-harness.ts";

function pair(): [WebSocket, WebSocket] {
  const [client, server] = Object.values(new WebSocketPair());
  return [client!, server!];
}

describe("WebSocket limits and misuse", () => {
  it("checks tags: at most 10 distinct, each at most 256 characters", async () => {
    await using rt = await startWsRuntime();
    await runInDurableObject(rt.env.ROOM.getByName("tags"), (_room, ctx) => {
      const tags = Array.from({ length: 11 }, (_, i) => `t${i}`);
      assert.throws(() => ctx.acceptWebSocket(pair()[1], tags), {
        name: "Error",
        message: "a Hibernatable WebSocket cannot have more than 10 tags",
      });
      const long = "x".repeat(257);
      assert.throws(() => ctx.acceptWebSocket(pair()[1], [long]), {
        name: "Error",
        message: `"${long}" is longer than the max tag length (256 characters).`,
      });
      const [, server] = pair();
      ctx.acceptWebSocket(server, ["a", "b", "a", "x".repeat(256)]);
      assert.deepEqual(ctx.getTags(server), ["a", "b", "x".repeat(256)], "duplicates are dropped");
      assert.deepEqual(ctx.getWebSockets("b"), [server]);
      assert.deepEqual(ctx.getWebSockets(), [server], "rejected sockets were not accepted");
    });
  });

  it("refuses to mix accept() and acceptWebSocket(), with Cloudflare's errors", async () => {
    await using rt = await startWsRuntime();
    await runInDurableObject(rt.env.ROOM.getByName("mix"), (_room, ctx) => {
      const [, accepted] = pair();
      accepted.accept();
      assert.throws(() => ctx.acceptWebSocket(accepted), {
        name: "Error",
        message:
          "Cannot call `acceptWebSocket()` if the WebSocket was already accepted via `accept()`",
      });
      assert.throws(() => ctx.getTags(accepted), {
        message: "only hibernatable websockets can have tags.",
      });

      const [, hibernatable] = pair();
      ctx.acceptWebSocket(hibernatable);
      assert.throws(() => hibernatable.accept(), {
        name: "TypeError",
        message: "Can't accept() WebSocket after enabling hibernation.",
      });
      const [otherEnd, server] = pair();
      otherEnd.accept();
      assert.throws(() => ctx.acceptWebSocket(server), {
        message:
          "Cannot call `acceptWebSocket()` on this WebSocket because its pair has already been accepted or used in a Response.",
      });

      const [, fresh] = pair();
      assert.throws(() => ctx.getTags(fresh), {
        message:
          "you must call 'acceptWebSocket()' before attempting to access the tags of a WebSocket.",
      });
      assert.throws(() => fresh.send("x"), {
        name: "TypeError",
        message:
          "You must call one of accept() or state.acceptWebSocket() on this WebSocket before sending messages.",
      });
    });
  });

  it("limits an object to 32,768 hibernatable sockets", async () => {
    await using rt = await startWsRuntime();
    await runInDurableObject(rt.env.ROOM.getByName("many"), (_room, ctx) => {
      for (let i = 0; i < 32_768; i++) ctx.acceptWebSocket(pair()[1]);
      assert.throws(() => ctx.acceptWebSocket(pair()[1]), {
        name: "Error",
        message: "only 32768 websockets can be accepted on a single Durable Object instance",
      });
      assert.equal(ctx.getWebSockets().length, 32_768);
    });
  });

  it("checks close codes and reasons", () => {
    const [, server] = pair();
    server.accept();
    for (const code of [1005, 1006, 1015, 1004, 999, 5000]) {
      assert.throws(
        () => server.close(code),
        (error: unknown) =>
          error instanceof DOMException &&
          error.name === "InvalidAccessError" &&
          error.message === `Invalid WebSocket close code: ${code}.`,
      );
    }
    assert.throws(() => server.close(undefined, "why"), {
      name: "TypeError",
      message: "If you specify a WebSocket close reason, you must also specify a code.",
    });
    assert.throws(
      () => server.close(1000, "é".repeat(62)),
      (error: unknown) => error instanceof DOMException && error.name === "SyntaxError",
      "124 bytes of UTF-8 is one too many",
    );
    server.close(1000, `${"é".repeat(61)}x`);
    server.close(1000, "twice is a no-op");
  });

  it("limits attachments to 16 KiB serialized, structured-clone only", () => {
    const [, server] = pair();
    // A string serializes to its bytes plus 5 (header, tag, length), as in workerd.
    server.serializeAttachment("x".repeat(16_379));
    assert.equal(server.deserializeAttachment().length, 16_379);
    assert.throws(() => server.serializeAttachment("x".repeat(16_380)), {
      name: "Error",
      message:
        "A WebSocket 'attachment' cannot be larger than 16384 bytes.'attachment' was 16385 bytes.",
    });
    assert.equal(server.deserializeAttachment().length, 16_379, "a refused value changes nothing");
    assert.throws(() => server.serializeAttachment({ f() {} }), { name: "DataCloneError" });

    const value = { when: new Date(0), tags: new Set(["a"]) };
    server.serializeAttachment(value);
    value.tags.add("b");
    const copy = server.deserializeAttachment();
    assert.deepEqual(copy, { when: new Date(0), tags: new Set(["a"]) }, "a copy, taken when set");
    assert.notEqual(server.deserializeAttachment(), copy);
    assert.equal(pair()[1].deserializeAttachment(), null);
  });

  it("checks the auto-response pair and the event timeout", async () => {
    await using rt = await startWsRuntime();
    await runInDurableObject(rt.env.ROOM.getByName("settings"), (_room, ctx) => {
      assert.equal(ctx.getWebSocketAutoResponse(), null);
      assert.throws(
        () => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("x".repeat(2049), "y")),
        {
          name: "RangeError",
          message: "Request cannot be larger than 2048 bytes. A request of size 2049 was provided.",
        },
      );
      assert.throws(
        () => ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("x", "y".repeat(2049))),
        {
          name: "RangeError",
          message:
            "Response cannot be larger than 2048 bytes. A response of size 2049 was provided.",
        },
      );
      ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
      const current = ctx.getWebSocketAutoResponse()!;
      assert.deepEqual([current.request, current.response], ["ping", "pong"]);
      ctx.setWebSocketAutoResponse();
      assert.equal(ctx.getWebSocketAutoResponse(), null);
      const [, server] = pair();
      assert.equal(ctx.getWebSocketAutoResponseTimestamp(server), null);

      assert.equal(ctx.getHibernatableWebSocketEventTimeout(), null);
      ctx.setHibernatableWebSocketEventTimeout(5_000);
      assert.equal(ctx.getHibernatableWebSocketEventTimeout(), 5_000);
      assert.throws(() => ctx.setHibernatableWebSocketEventTimeout(604_800_001), {
        name: "Error",
        message: "Event timeout should not exceed 604800000 ms.",
      });
      ctx.setHibernatableWebSocketEventTimeout(0);
      assert.equal(ctx.getHibernatableWebSocketEventTimeout(), null, "0 unsets it");
    });
  });

  it(
    "closes a connection that sends more than 32 MiB with 1009 and reports an error",
    LIMIT,
    async () => {
      await using t = await startWs();
      const client = await t.connect("/room/big");
      assert.equal(await client.ask("echo ok"), "ok");
      client.ws.send(new Uint8Array(32 * 1024 * 1024 + 1));
      assert.equal((await client.waitClosed()).code, 1009);
      await waitFor(() => seen.some((s) => s.object === "big"), "webSocketError");
      assert.deepEqual(
        seen.filter((s) => s.object === "big"),
        [
          {
            object: "big",
            event: "error",
            message:
              "Message is too large: the WebSocket received a message over the limit; the limit is 33554432 bytes (32 MiB). The socket was closed with code 1009.",
          },
        ],
      );
    },
  );
});
