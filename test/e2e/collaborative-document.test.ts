// templates/collaborative-document under `stead start`, edited from two Chromium pages: what one
// types shows in the other, concurrent typing converges, and across a crash and restart the
// document is kept, the pages reconnect, and what was typed while the server was down reaches
// everyone.
import assert from "node:assert/strict";
import { symlinkSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { launchChromium } from "../support/browser.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const NODE_MODULES = join(TEMPLATES, "..", "node_modules");

/**
 * A copy of the template with the repository's node_modules, as an installed app has them: its
 * build command writes build/ in the copy, not under templates/ where another test builds it.
 */
async function installedApp(into: string): Promise<string> {
  const app = await copyTemplate("collaborative-document", into);
  symlinkSync(NODE_MODULES, join(app, "node_modules"));
  return app;
}

/** A port free now, for a server that must come back on the same one. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Opens document `name` as `person` and waits until the page has synced with the server. */
async function openEditor(browser: Browser, base: string, name: string, person: string) {
  const page = await browser.newPage();
  await page.goto(`${base}/d/${name}?name=${person}`);
  await synced(page);
  return page;
}

function synced(page: Page, timeout = 5_000): Promise<void> {
  return page.locator('#status[data-state="synced"]').waitFor({ timeout });
}

function editorText(page: Page): Promise<string> {
  return page.locator("#editor").inputValue();
}

/** Waits until the page's editor holds exactly `text`. */
async function shows(page: Page, text: string): Promise<void> {
  await eventually(`the editor to read ${JSON.stringify(text)}`, async () =>
    (await editorText(page)) === text ? true : undefined,
  );
}

/** Types `text` with the keyboard, the caret first put at `at` (an index, or the end). */
async function typeAt(page: Page, at: number | "end", text: string): Promise<void> {
  const editor = page.locator("#editor");
  await editor.focus();
  await editor.evaluate((element, at) => {
    const textarea = element as HTMLTextAreaElement;
    const index = at === "end" ? textarea.value.length : at;
    textarea.setSelectionRange(index, index);
  }, at);
  await page.keyboard.type(text);
}

async function served(base: string, name: string): Promise<string> {
  const response = await fetch(`${base}/d/${name}/text`);
  assert.equal(response.status, 200);
  return response.text();
}

describe("templates/collaborative-document under stead start", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it("syncs typing between pages, converges, and keeps the document across a crash", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await installedApp(work.path);
    const port = await freePort();
    const args = [app, "--host", "127.0.0.1"];
    const together = "Bob: Hello from Ann and more";
    const stead = await startStead("start", args, { port, store });
    let ann: Page;
    let bob: Page;
    try {
      ann = await openEditor(browser, stead.url, "e2e", "Ann");
      bob = await openEditor(browser, stead.url, "e2e", "Bob");
      await ann.locator("#people", { hasText: "Bob" }).waitFor({ timeout: 5_000 });

      await typeAt(ann, "end", "Hello from Ann");
      await shows(bob, "Hello from Ann");

      // Both type at once, Ann at the end and Bob at the start, one key at a time.
      await Promise.all([typeAt(ann, "end", " and more"), typeAt(bob, 0, "Bob: ")]);
      await shows(ann, together);
      await shows(bob, together);
      assert.equal(await served(stead.url, "e2e"), together);
      assert.equal(await served(stead.url, "elsewhere"), "");
    } finally {
      // A crash, not a shutdown: what the pages saw was on disk before they saw it.
      await stead.stop("SIGKILL");
    }
    await ann.locator('#status[data-state="offline"]').waitFor({ timeout: 5_000 });
    await typeAt(ann, "end", " (offline)");

    await using again = await startStead("start", args, { port, store });
    // The pages reconnect by themselves; Ann's offline typing reaches the document and Bob.
    await synced(ann, 15_000);
    await synced(bob, 15_000);
    const kept = `${together} (offline)`;
    await shows(bob, kept);
    assert.equal(await served(again.url, "e2e"), kept);
    const cat = await openEditor(browser, again.url, "e2e", "Cat");
    await shows(cat, kept);
    for (const page of [ann, bob, cat]) await page.close();
  });

  it("serves the page at / for the default document, and refuses bad names", async () => {
    using work = tempDataDir();
    using store = testStore();
    const app = await installedApp(work.path);
    await using stead = await startStead("start", [app, "--host", "127.0.0.1"], { store });
    const page = await browser.newPage();
    await page.goto(stead.url);
    await synced(page);
    assert.equal(await page.locator("#name").textContent(), "default");
    await typeAt(page, 0, "on the front page");
    await eventually("the text to be stored", async () =>
      (await served(stead.url, "default")) === "on the front page" ? true : undefined,
    );
    await page.close();

    const bad = await fetch(`${stead.url}/d/has%20space`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Document names are 1 to 64 letters/);
  });
});
