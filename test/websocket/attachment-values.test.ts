// Platform objects as WebSocket attachments, as workerd serializes them: what it stores
// (Headers, Blob, bodiless Request/Response, DOMException) comes back equal, in a later event
// too; what it refuses is a DataCloneError with its text, and the previous attachment stays.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInDurableObject } from "../../src/testing/index.ts";
import {
  assertDataCloneError,
  assertSameValue,
  REFUSED,
  REFUSED_OUTSIDE_RPC,
  STORED,
} from "../support/platform-values.ts";
import { startWsRuntime } from "../support/ws-harness.ts";

describe("platform objects as WebSocket attachments", () => {
  it("what workerd stores comes back equal, in the same event and a later one", async () => {
    await using rt = await startWsRuntime();
    const room = rt.env.ROOM.getByName("attach-stored");
    await runInDurableObject(room, async (_room, ctx) => {
      for (const { name, make } of STORED) {
        const server = Object.values(new WebSocketPair())[1]!;
        ctx.acceptWebSocket(server, [name]);
        const original = make();
        server.serializeAttachment({ value: original, list: [original] });
        const copy = server.deserializeAttachment() as { value: unknown; list: unknown[] };
        await assertSameValue(copy.value, original);
        assert.equal(copy.list[0], copy.value, "one object stays one object");
      }
    });
    await runInDurableObject(room, async (_room, ctx) => {
      for (const { name, make } of STORED) {
        const [socket] = ctx.getWebSockets(name);
        await assertSameValue(
          (socket!.deserializeAttachment() as { value: unknown }).value,
          make(),
        );
      }
    });
  });

  it("what workerd refuses is a DataCloneError with its text; the old attachment stays", async () => {
    await using rt = await startWsRuntime();
    await runInDurableObject(rt.env.ROOM.getByName("attach-refused"), (_room, ctx) => {
      const server = Object.values(new WebSocketPair())[1]!;
      ctx.acceptWebSocket(server);
      server.serializeAttachment({ user: "alice" });
      for (const { make, message } of [...REFUSED, ...REFUSED_OUTSIDE_RPC]) {
        assert.throws(
          () => server.serializeAttachment({ user: "bob", extra: [make()] }),
          (error) => {
            assertDataCloneError(error, message);
            return true;
          },
        );
      }
      assert.deepEqual(server.deserializeAttachment(), { user: "alice" });
    });
  });
});
