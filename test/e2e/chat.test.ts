import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { Browser, Page } from "playwright-core";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { launchChromium } from "../support/browser.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { connect } from "../support/ws-client.ts";

const CHAT = join(TEMPLATES, "chat");
const HOST = ["--host", "127.0.0.1"];
/** The limiter's answer, naming the seconds left in its window. */
const TOO_FAST = /^You are sending too fast; wait \d+ seconds?\.$/;

/** Opens the chat page as `name` in `room` and waits until its WebSocket is connected. */
async function openChat(browser: Browser, base: string, room: string, name: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${base}/?room=${room}&name=${name}`);
  await page.locator("#status", { hasText: `Connected as ${name}` }).waitFor({ timeout: 5_000 });
  return page;
}

/** Waits for the list item reading exactly `text`. */
function shows(page: Page, text: string): Promise<void> {
  return page
    .locator("#messages li")
    .filter({ hasText: new RegExp(`^${text}$`) })
    .waitFor({ timeout: 5_000 });
}

function messages(page: Page): Promise<string[]> {
  return page.locator("#messages li").allTextContents();
}

describe("templates/chat under stead start", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it("shows a message typed in one page in the other, and the history after a restart", async () => {
    using store = testStore();
    const args = [CHAT, ...HOST];
    const stead = await startStead("start", args, { store });
    try {
      const ann = await openChat(browser, stead.url, "e2e", "ann");
      const bob = await openChat(browser, stead.url, "e2e", "bob");
      await shows(ann, "bob joined");

      await ann.locator("#text").fill("hello from ann");
      await ann.locator("#text").press("Enter");
      await shows(bob, "ann: hello from ann");
      await shows(ann, "ann: hello from ann");
      await bob.locator("#text").fill("hi ann");
      await bob.locator("button").click();
      await shows(ann, "bob: hi ann");
      assert.deepEqual(await messages(bob), ["bob joined", "ann: hello from ann", "bob: hi ann"]);

      // Another room hears nothing of it.
      const eve = await openChat(browser, stead.url, "elsewhere", "eve");
      await shows(eve, "eve joined");
      assert.deepEqual(await messages(eve), ["eve joined"]);

      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
      await ann.locator("#status", { hasText: "Disconnected" }).waitFor({ timeout: 5_000 });
      await ann.close();
      await bob.close();
      await eve.close();
    } finally {
      await stead.stop("SIGKILL");
    }

    await using again = await startStead("start", args, { store });
    const cat = await openChat(browser, again.url, "e2e", "cat");
    await shows(cat, "cat joined");
    assert.deepEqual(await messages(cat), ["ann: hello from ann", "bob: hi ann", "cat joined"]);
    await cat.close();
  });

  it("says on the page why it could not join a room whose name is invalid", async () => {
    using store = testStore();
    await using stead = await startStead("start", [CHAT, ...HOST], { store });
    const page = await browser.newPage();
    await page.goto(`${stead.url}/?room=no.dots&name=ann`);
    await page
      .locator("#status", { hasText: "Could not connect: room names are 1 to 64 letters" })
      .waitFor({ timeout: 5_000 });
    await page.close();
  });

  it("rate-limits a sender once it passes RATE_LIMIT messages in the window", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await copyTemplate("chat", work.path, {
      file: "wrangler.jsonc",
      replace: ['"RATE_LIMIT": "20"', '"RATE_LIMIT": "3"'],
    });
    await using stead = await startStead("start", [app, ...HOST], { store });
    const ws = stead.url.replace(/^http/, "ws");

    await using ann = await connect(`${ws}/rooms/limits/ws?name=ann`);
    assert.deepEqual(await ann.next((m) => m.type === "history"), {
      type: "history",
      messages: [],
    });
    for (const text of ["one", "two", "three"]) {
      ann.send({ text });
      const { message } = await ann.next((m) => m.type === "message");
      assert.equal(message.text, text);
      assert.equal(message.name, "ann");
    }
    ann.send({ text: "four" });
    assert.match((await ann.next((m) => m.type === "error")).error, TOO_FAST);
    ann.send("not json");
    assert.deepEqual(await ann.next((m) => m.type === "error"), {
      type: "error",
      error: 'Send JSON like {"text": "hello"}',
    });
    // Protocol-level keepalive answered by the room's auto-response.
    ann.send("ping");
    assert.equal(await ann.next((m) => m === "pong"), "pong");
    assert.deepEqual(
      ann.received.filter((m: any) => m.type === "message").map((m: any) => m.message.text),
      ["one", "two", "three"],
    );

    // The limit is per sender address, and the history kept only what was allowed.
    await using bob = await connect(`${ws}/rooms/limits/ws?name=bob`);
    const history = await bob.next((m) => m.type === "history");
    assert.deepEqual(
      history.messages.map((m: { text: string }) => m.text),
      ["one", "two", "three"],
    );
    bob.send({ text: "from the same address" });
    assert.match((await bob.next((m) => m.type === "error")).error, TOO_FAST);
  });

  it("limits each client address separately (CF-Connecting-IP is the client's address)", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await copyTemplate("chat", work.path, {
      file: "wrangler.jsonc",
      replace: ['"RATE_LIMIT": "20"', '"RATE_LIMIT": "1"'],
    });
    await using stead = await startStead("start", [app, ...HOST], { store });
    const ws = stead.url.replace(/^http/, "ws");
    await using ann = await connect(`${ws}/rooms/ip/ws?name=ann`, { localAddress: "127.0.0.1" });
    await using bob = await connect(`${ws}/rooms/ip/ws?name=bob`, { localAddress: "127.0.0.2" });
    // A client cannot pick its own address by sending the header itself.
    await using mallory = await connect(`${ws}/rooms/ip/ws?name=mallory`, {
      localAddress: "127.0.0.1",
      headers: { "CF-Connecting-IP": "198.51.100.9" },
    });
    ann.send({ text: "ann's one message" });
    await bob.next((m) => m.type === "message" && m.message.name === "ann");
    bob.send({ text: "bob's one message" });
    const answer = await bob.next(
      (m) => m.type === "error" || (m.type === "message" && m.message.name === "bob"),
    );
    assert.equal(answer.type, "message", JSON.stringify(answer));
    mallory.send({ text: "spoofed" });
    assert.match((await mallory.next((m) => m.type === "error")).error, TOO_FAST);
  });

  it("closes open chat sockets promptly with a close code on SIGTERM", async () => {
    using store = testStore();
    await using stead = await startStead("start", [CHAT, ...HOST, "--shutdown-timeout", "10000"], {
      store,
    });
    await using ann = await connect(`${stead.url.replace(/^http/, "ws")}/rooms/bye/ws?name=ann`);
    await ann.next((m) => m.type === "history");
    const exited = stead.stop("SIGTERM");
    const stopWaiting = new AbortController();
    const closed = await Promise.race([
      ann.closed,
      delay(2_000, undefined, { signal: stopWaiting.signal }).catch(() => undefined),
    ]).finally(() => stopWaiting.abort());
    assert.ok(closed !== undefined, "the socket was still open 2 s after SIGTERM");
    assert.ok([1001, 1012].includes(closed.code), `close code ${closed.code}`);
    assert.deepEqual(await exited, { code: 0, signal: null });
    // The upgrade has its request line (101) and the close its own line.
    const upgrade = stead.logs.find(
      (r) => r.msg === "request" && r.path === "/rooms/bye/ws?name=ann",
    );
    assert.equal(upgrade?.status, 101);
    const close = stead.logs.find((r) => r.msg === "WebSocket closed");
    assert.equal(close?.path, "/rooms/bye/ws?name=ann");
    assert.ok([1001, 1012].includes(close?.code as number), `logged close code ${close?.code}`);
  });
});
