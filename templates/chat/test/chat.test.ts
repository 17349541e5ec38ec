import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { createRuntime, type Runtime } from "stead";
import { runDurableObjectAlarm, runInDurableObject } from "stead/testing";

// The app as `stead start` runs it: its wrangler config, its code, a data directory.
const app = new URL("..", import.meta.url);

const TOO_FAST = /^You are sending too fast; wait \d+ seconds?\.$/;

/** A member's end of a room's WebSocket, recording what the room sends. */
interface Client {
  /** Everything received, JSON-parsed (or the text, such as "pong"), in order. */
  readonly received: any[];
  send(message: unknown): void;
  /**
   * The first message matching `match` that came after the one `next` last returned, waiting
   * for it up to 5 seconds.
   */
  next(match: (message: any) => boolean): Promise<any>;
  close(): void;
}

/**
 * Joins `room` as `name` over an in-process WebSocket, from the client address `ip` (Cloudflare
 * and `stead start` set CF-Connecting-IP from the connection; in-process, the test sets it).
 */
async function enter(rt: Runtime, room: string, name: string, ip = "192.0.2.1"): Promise<Client> {
  const response = await rt.fetch(`http://app/rooms/${room}/ws?name=${encodeURIComponent(name)}`, {
    headers: { Upgrade: "websocket", "CF-Connecting-IP": ip },
  });
  if (response.status !== 101) {
    throw new Error(`Joining ${room} answered ${response.status}: ${await response.text()}`);
  }
  const ws = response.webSocket!;
  const received: any[] = [];
  let wake = () => {};
  ws.addEventListener("message", (event) => {
    try {
      received.push(JSON.parse(event.data as string));
    } catch {
      received.push(event.data);
    }
    wake();
  });
  ws.accept();
  let cursor = 0;
  return {
    received,
    send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    async next(match) {
      const deadline = Date.now() + 5_000;
      for (;;) {
        const index = received.findIndex((message, i) => i >= cursor && match(message));
        if (index >= 0) {
          cursor = index + 1;
          return received[index];
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `${name} did not get the expected message; got ${JSON.stringify(received)}`,
          );
        }
        // Woken by the next message, or by the deadline.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    close: () => ws.close(1000, "bye"),
  };
}

const message = (m: any) => m.type === "message";
const texts = (history: { messages: { name: string; text: string }[] }) =>
  history.messages.map((m) => `${m.name}: ${m.text}`);

test("members of a room see each other's messages; a newcomer gets the history", async () => {
  await using rt = await createRuntime({ config: app });
  const ann = await enter(rt, "lobby", "ann", "192.0.2.1");
  assert.deepEqual(await ann.next(() => true), { type: "history", messages: [] });
  assert.deepEqual(await ann.next(() => true), { type: "joined", name: "ann" });
  const bob = await enter(rt, "lobby", "bob", "192.0.2.2");
  assert.deepEqual(await ann.next(() => true), { type: "joined", name: "bob" });

  ann.send({ text: "  hello bob " });
  for (const member of [ann, bob]) {
    const { message: sent } = await member.next(message);
    assert.equal(sent.name, "ann");
    assert.equal(sent.text, "hello bob");
    assert.equal(typeof sent.sentAt, "number");
  }
  bob.send({ text: "hi ann" });
  assert.equal((await ann.next(message)).message.text, "hi ann");

  const carol = await enter(rt, "lobby", "carol", "192.0.2.3");
  const history = await carol.next((m) => m.type === "history");
  assert.deepEqual(texts(history), ["ann: hello bob", "bob: hi ann"]);
  assert.ok(history.messages[0].id < history.messages[1].id);

  bob.close();
  assert.deepEqual(await ann.next((m) => m.type === "left"), { type: "left", name: "bob" });

  // Another room is another object, with its own history.
  const dave = await enter(rt, "kitchen", "dave");
  assert.deepEqual(await dave.next(() => true), { type: "history", messages: [] });
});

test("keeps a room's history through a restart", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-test-"));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  {
    await using rt = await createRuntime({ config: app, dataDir });
    const ann = await enter(rt, "lobby", "ann");
    for (const text of ["one", "two"]) {
      ann.send({ text });
      assert.equal((await ann.next(message)).message.text, text);
    }
  }
  await using rt = await createRuntime({ config: app, dataDir });
  const bob = await enter(rt, "lobby", "bob");
  assert.deepEqual(texts(await bob.next(() => true)), ["ann: one", "ann: two"]);
});

test("keeps only a room's last 100 messages", async () => {
  await using rt = await createRuntime({
    config: app,
    vars: { RATE_LIMIT: "1000", RATE_WINDOW_SECONDS: "60" },
  });
  const ann = await enter(rt, "lobby", "ann");
  for (let i = 1; i <= 105; i++) ann.send({ text: `message ${i}` });
  await ann.next((m) => m.type === "message" && m.message.text === "message 105");
  const history = await (await enter(rt, "lobby", "bob")).next(() => true);
  assert.equal(history.messages.length, 100);
  assert.equal(history.messages[0].text, "message 6");
});

test("rate-limits each client address, answering with how long to wait", async () => {
  await using rt = await createRuntime({
    config: app,
    vars: { RATE_LIMIT: "2", RATE_WINDOW_SECONDS: "60" },
  });
  const ann = await enter(rt, "lobby", "ann", "192.0.2.1");
  const bob = await enter(rt, "lobby", "bob", "192.0.2.2");
  ann.send({ text: "one" });
  ann.send({ text: "two" });
  ann.send({ text: "three" });
  const refused = await ann.next((m) => m.type === "error");
  assert.match(refused.error, TOO_FAST);
  const seconds = Number(/\d+/.exec(refused.error)![0]);
  assert.ok(seconds >= 1 && seconds <= 60, refused.error);

  // Another address is not held back; the refused message went to nobody.
  bob.send({ text: "from bob" });
  await bob.next((m) => m.type === "message" && m.message.name === "bob");
  assert.deepEqual(
    bob.received.filter(message).map((m) => m.message.text),
    ["one", "two", "from bob"],
  );
  // The limit is per address, not per connection.
  const again = await enter(rt, "lobby", "ann again", "192.0.2.1");
  again.send({ text: "four" });
  assert.match((await again.next((m) => m.type === "error")).error, TOO_FAST);

  // The window ends with the limiter's alarm (run now rather than waiting a minute): the count
  // is deleted, so the limiter keeps nothing for the address, which may send again.
  const limiter = rt.env.LIMITERS.getByName("192.0.2.1");
  assert.equal(await runDurableObjectAlarm(limiter), true);
  const kept = await runInDurableObject(limiter, async (_instance, ctx) => ({
    keys: [...(await ctx.storage.list()).keys()],
    alarm: await ctx.storage.getAlarm(),
  }));
  assert.deepEqual(kept, { keys: [], alarm: null });
  again.send({ text: "five" });
  assert.equal((await again.next(message)).message.text, "five");
});

test("answers bad requests and messages with what is wrong", async () => {
  await using rt = await createRuntime({ config: app });
  const page = await rt.fetch("http://app/");
  assert.equal(page.status, 200);
  assert.match(page.headers.get("Content-Type")!, /^text\/html/);
  assert.match(await page.text(), /<title>Stead chat<\/title>/);

  const upgrade = { headers: { Upgrade: "websocket" } };
  const refused = async (path: string, init: RequestInit, status: number, text: RegExp) => {
    const response = await rt.fetch(`http://app${path}`, init);
    assert.equal(response.status, status, path);
    assert.match(await response.text(), text);
  };
  await refused("/rooms/lobby/ws?name=ann", {}, 426, /Connect a WebSocket/);
  await refused("/rooms/lobby/ws", upgrade, 400, /Pass your name/);
  await refused(`/rooms/lobby/ws?name=${"x".repeat(33)}`, upgrade, 400, /1 to 32 characters/);
  await refused("/rooms/no.dots/ws?name=ann", upgrade, 400, /Room names are/);
  await refused("/elsewhere", {}, 404, /Not found/);

  const ann = await enter(rt, "lobby", "ann");
  const usage = { type: "error", error: 'Send JSON like {"text": "hello"}' };
  for (const bad of ["not json", { text: 5 }, { text: "  " }, { message: "hi" }]) {
    ann.send(bad);
    assert.deepEqual(await ann.next((m) => m.type === "error"), usage, JSON.stringify(bad));
  }
  ann.send({ text: "x".repeat(1001) });
  assert.deepEqual(await ann.next((m) => m.type === "error"), {
    type: "error",
    error: "Messages are at most 1000 characters; this one has 1001.",
  });
  // The keepalive is answered by the runtime, without waking the room.
  ann.send("ping");
  assert.equal(await ann.next((m) => m === "pong"), "pong");
  assert.equal(ann.received.filter(message).length, 0);
});
