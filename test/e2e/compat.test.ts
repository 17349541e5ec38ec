import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { fetchJson } from "../support/fetch.ts";
import { type SteadProcess, startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";
import { connect, type WsClient } from "../support/ws-client.ts";

/** An app written exactly as for Cloudflare: see its wrangler.jsonc. */
const APP = fileURLToPath(new URL("../fixtures/compat-app/", import.meta.url));
const HOST = ["--host", "127.0.0.1"];

function getJson(stead: SteadProcess, path: string, init?: RequestInit) {
  return fetchJson(`${stead.url}${path}`, init);
}

function join(stead: SteadProcess, room: string, user: string): Promise<WsClient> {
  return connect(`${stead.url.replace(/^http/, "ws")}/rooms/${room}?user=${user}`);
}

describe("a Cloudflare app unchanged under stead start", () => {
  it("serves the Worker: a WorkerEntrypoint class, vars, enums and parameter properties", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...HOST], { store });
    const hello = await fetch(`${stead.url}/hello?name=ann`);
    assert.equal(hello.status, 200);
    assert.equal(await hello.text(), "Hello from the compat app, ann!");
    assert.deepEqual(await getJson(stead, "/nowhere"), {
      status: 404,
      body: { error: "Not found: /nowhere" },
    });
    assert.deepEqual(await getJson(stead, "/counters/"), {
      status: 404,
      body: { error: "Name a counter: /counters/<name>" },
    });
  });

  it("reaches objects by RPC and by stub.fetch, with errors, getters and waitUntil", async () => {
    using store = testStore();
    const args = [APP, ...HOST];
    let id: string;
    {
      await using stead = await startStead("start", args, { store });
      assert.deepEqual(await getJson(stead, "/counters/a/up?times=3"), {
        status: 200,
        body: { value: 3, current: 3 },
      });
      // An error thrown by the object arrives with its type and message; MAX_CHANGE is a var.
      assert.deepEqual(await getJson(stead, "/counters/a/down?times=9"), {
        status: 422,
        body: { error: "at most 5 at once, got 9", name: "RangeError", isRangeError: true },
      });

      // stub.fetch(request): the Worker forwards the client's request as it is.
      const read = await getJson(stead, "/counters/a");
      assert.equal(read.status, 200);
      assert.deepEqual(
        { ...read.body, id: undefined },
        {
          value: 3,
          lastChange: "Up",
          alarm: null,
          resets: 0,
          id: undefined,
          name: "a",
          method: "GET",
          path: "/counters/a",
          header: null,
        },
      );
      id = read.body.id;
      assert.match(id, /^[0-9a-f]{64}$/);
      const posted = await getJson(stead, "/counters/a", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ by: -2 }),
      });
      assert.deepEqual(
        [posted.status, posted.body.value, posted.body.lastChange],
        [200, 1, "Down"],
      );
      assert.equal(posted.body.method, "POST");
      assert.equal(posted.body.id, id);
      const invalid = await getJson(stead, "/counters/a", { method: "POST", body: '{"by":"x"}' });
      assert.deepEqual(invalid, { status: 400, body: { error: "by must be an integer" } });

      // stub.fetch(url, init): a request the Worker makes up.
      const inspected = await getJson(stead, "/counters/a/via-fetch");
      assert.equal(inspected.body.path, "/inspect");
      assert.equal(inspected.body.header, "yes");
      assert.equal(inspected.body.value, 1);
      assert.equal(inspected.body.id, id);

      // ctx.waitUntil: answered first, counted after.
      const later = await fetch(`${stead.url}/later/b`);
      assert.deepEqual([later.status, await later.text()], [202, "accepted"]);
      await eventually("the waitUntil work to count", async () => {
        const { body } = await getJson(stead, "/counters/b/state");
        return body.value === 1 ? true : undefined;
      });
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    }
    // Storage and ids survive a restart; the migrations are not applied again.
    await using again = await startStead("start", args, { store });
    const after = await getJson(again, "/counters/a");
    assert.deepEqual([after.body.value, after.body.id], [1, id]);
    assert.equal((await getJson(again, "/counters/b/state")).body.value, 1);
  });

  it("runs alarms set over RPC", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...HOST], { store });
    assert.equal((await getJson(stead, "/counters/c/up?times=4")).body.value, 4);
    const { body } = await getJson(stead, "/counters/c/reset-in?ms=200");
    const at = body.at as number;
    assert.equal((await getJson(stead, "/counters/c/state")).body.alarm, at);
    const fired = await eventually("the alarm to reset the counter", async () => {
      const state = (await getJson(stead, "/counters/c/state")).body;
      return state.resets === 1 ? state : undefined;
    });
    assert.ok(Date.now() >= at);
    assert.deepEqual(fired, { value: 0, lastChange: "Up", alarm: null, resets: 1 });
  });

  it("serves hibernatable WebSockets through stub.fetch: tags, attachments, auto-response, alarms", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...HOST], { store });
    await using ann = await join(stead, "lobby", "ann");
    await using bob = await join(stead, "lobby", "bob");
    await using admin = await join(stead, "lobby", "admin");
    await using other = await join(stead, "elsewhere", "eve");
    assert.deepEqual(await ann.next((m) => m.type === "joined"), { type: "joined", user: "bob" });
    assert.deepEqual(await ann.next((m) => m.type === "joined"), { type: "joined", user: "admin" });

    // Broadcast to every socket of the room (getWebSockets()), none of another room's.
    ann.send({ type: "say", text: "hi all" });
    for (const client of [ann, bob, admin]) {
      assert.deepEqual(await client.next((m) => m.type === "said"), {
        type: "said",
        from: "ann",
        text: "hi all",
      });
    }
    // getWebSockets(tag) picks one user's sockets.
    ann.send({ type: "whisper", to: "bob", text: "psst" });
    assert.deepEqual(await bob.next((m) => m.type === "whispered"), {
      type: "whispered",
      from: "ann",
      text: "psst",
    });

    // The auto-response answers without running webSocketMessage (the sent count stays put).
    const beforePing = Date.now();
    ann.send("ping");
    assert.equal(await ann.next((m) => m === "pong"), "pong");
    ann.send({ type: "whoami" });
    const me = await ann.next((m) => m.type === "you");
    assert.equal(me.member.user, "ann");
    assert.equal(me.member.sent, 3, "say, whisper and whoami ran the handler; ping did not");
    assert.deepEqual(me.tags, ["user:ann", "role:member"]);
    assert.equal(me.peers, 3);
    assert.equal(me.admins, 1);
    assert.equal(me.autoResponse, "pong");
    assert.equal(me.eventTimeout, 5000);
    assert.ok(
      me.lastPing >= beforePing - 5 && me.lastPing <= Date.now(),
      `lastPing ${me.lastPing}`,
    );
    assert.equal(
      ann.received.filter((m: any) => m.type === "whispered").length,
      0,
      "the whisper went to bob alone",
    );
    assert.deepEqual(
      other.received.filter((m: any) => m.type !== "joined"),
      [],
      "the other room heard nothing",
    );

    // Attachments keep their updates from one message to the next.
    ann.send({ type: "whoami" });
    const again = await ann.next((m) => m.type === "you");
    assert.equal(again.member.sent, 4);
    assert.equal(again.member.joinedAt, me.member.joinedAt);
    assert.equal(again.constructions, me.constructions);

    // Binary frames arrive as ArrayBuffer and go back as bytes.
    ann.socket.send(Uint8Array.from([1, 2, 3]));
    const bytes = await ann.next((m) => Buffer.isBuffer(m));
    assert.deepEqual([...bytes], [3, 2, 1]);

    // RPC from the room object to a Counter object.
    ann.send({ type: "count", counter: "from-ws" });
    assert.deepEqual(await ann.next((m) => m.type === "counted"), {
      type: "counted",
      counter: "from-ws",
      value: 1,
    });

    // An alarm set from a WebSocket handler wakes the room and reaches every socket.
    admin.send({ type: "remind", ms: 150, text: "stand-up" });
    await admin.next((m) => m.type === "scheduled");
    for (const client of [ann, bob, admin]) {
      assert.deepEqual(await client.next((m) => m.type === "reminder"), {
        type: "reminder",
        text: "stand-up",
        from: "admin",
      });
    }

    // Closing: webSocketClose runs with the client's code and reason; the others hear of it.
    bob.socket.close(4000, "bye bob");
    assert.equal((await bob.closed).code, 4000);
    assert.deepEqual(await ann.next((m) => m.type === "left"), {
      type: "left",
      user: "bob",
      code: 4000,
      reason: "bye bob",
      wasClean: true,
    });
    ann.send({ type: "whoami" });
    assert.equal((await ann.next((m) => m.type === "you")).peers, 2);
  });

  it("serves a standard WebSocket from the Worker to Node's own WebSocket client", async () => {
    using store = testStore();
    await using stead = await startStead("start", [APP, ...HOST], { store });
    const socket = new WebSocket(`${stead.url.replace(/^http/, "ws")}/echo`);
    const received: string[] = [];
    const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
    socket.addEventListener("message", (event) => received.push(String(event.data)));
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve);
      socket.addEventListener("error", reject);
    });
    socket.send("one");
    socket.send("two");
    await eventually("both echoes", () => (received.length === 2 ? true : undefined));
    assert.deepEqual(received, ["echo: one", "echo: two"]);
    socket.close(1000, "done");
    const event = await closed;
    assert.equal(event.code, 1000);
  });

  const HIBERNATE_AFTER_MS = 200;

  it("hibernates the room while its sockets stay open, then wakes it for the next message", {
    timeout: 15_000,
  }, async () => {
    using store = testStore();
    await using stead = await startStead(
      "start",
      [APP, "--hibernate-after", String(HIBERNATE_AFTER_MS), ...HOST],
      { store },
    );
    await using ann = await join(stead, "sleepy", "ann");
    ann.send({ type: "whoami" });
    const before = await ann.next((m) => m.type === "you");
    // Real wall-clock time must pass in the server for it to hibernate the room.
    await sleep(HIBERNATE_AFTER_MS + 300);
    ann.send("ping");
    assert.equal(await ann.next((m) => m === "pong"), "pong");
    ann.send({ type: "whoami" });
    const after = await ann.next((m) => m.type === "you");
    assert.equal(after.constructions, before.constructions + 1, "the constructor ran again");
    assert.equal(after.member.sent, 2);
    assert.equal(after.member.joinedAt, before.member.joinedAt);
    assert.deepEqual(after.tags, ["user:ann", "role:member"]);
    assert.equal(after.autoResponse, "pong");
    assert.ok(after.lastPing >= before.lastPing || before.lastPing === null);
  });
});
