// Apps on real Workers libraries (partyserver, the agents SDK) under `stead start`, unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";
import { connect } from "../support/ws-client.ts";

const APP = fileURLToPath(new URL("../fixtures/party-app/", import.meta.url));

describe("real Workers libraries under stead start", () => {
  it("partyserver with hibernation: messages and closes reach the room after it left memory", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, "--hibernate-after", "50"], { store });
    const base = `${stead.url.replace(/^http/, "ws")}/parties/room/lobby`;
    await using a = await connect(base);
    await using b = await connect(base);
    a.send("first");
    const first = await a.next((m) => m.echo === "first");
    // Each reply names the instance that handled it: a new one means the room hibernated and
    // the message still reached the class's onMessage.
    let n = 0;
    const later = await eventually(
      "a reply from a new instance of the room",
      async () => {
        const text = `again-${n++}`;
        a.send(text);
        const reply = await a.next((m) => m.echo === text);
        return reply.instance !== first.instance ? reply : undefined;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    assert.notEqual(later.instance, first.instance);
    a.socket.close();
    const left = await b.next((m) => m.left !== undefined);
    assert.equal(typeof left.left, "string");
  });

  it("an agents SDK Agent syncs its state to clients over WebSocket", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP], { store });
    const url = `${stead.url.replace(/^http/, "ws")}/agents/counter-agent/one`;
    await using a = await connect(url);
    const initial = await a.next((m) => m.type === "cf_agent_state");
    assert.deepEqual(initial.state, { count: 0 });
    await using b = await connect(url);
    await b.next((m) => m.type === "cf_agent_state");
    a.send({ type: "cf_agent_state", state: { count: 5 } });
    const synced = await b.next((m) => m.type === "cf_agent_state" && m.state.count === 5);
    assert.deepEqual(synced.state, { count: 5 });
  });
});
