import assert from "node:assert/strict";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  brotliCompressSync,
  brotliDecompressSync,
  gunzipSync,
  gzipSync,
  constants as zlibConstants,
} from "node:zlib";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/browser.ts";
import { decodePng } from "../support/png.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const SPA = new URL("../fixtures/apps/spa-app", import.meta.url).pathname;
const HOST = ["--host", "127.0.0.1"];

/** A copy of the SPA app, with a larger text asset, that a test may change. */
function spaCopy() {
  const dir = tempDataDir("stead-spa-");
  cpSync(SPA, dir.path, { recursive: true });
  writeFileSync(join(dir.path, "public", "assets", "words.txt"), "lorem ipsum ".repeat(5000));
  return dir;
}

/** A raw GET (no automatic decoding), for what the server really sends. */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>(
    (resolve, reject) => {
      httpRequest(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    },
  );
}

describe("a single-page application with assets and KV under stead", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it("renders the page in Chromium through the SPA fallback, its API in the Worker", async () => {
    using app = spaCopy();
    using store = testStore();
    {
      await using stead = await startStead("start", [app.path, ...HOST], { store });
      const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
      const response = await page.goto(`${stead.url}/rooms/42`);
      assert.equal(response?.status(), 200);
      await page.locator("body[data-ready=true]").waitFor({ timeout: 10_000 });
      assert.equal(await page.locator("#title").textContent(), "Room 42 · visit 1");
      const shot = decodePng(await page.screenshot());
      assert.equal(shot.width, 640);
      // The banner's colour comes from app.css: served, with a type Chromium accepts.
      assert.deepEqual(shot.rgb(5, 5), [30, 144, 255]);
      assert.deepEqual(shot.rgb(600, 100), [30, 144, 255]);
      // The title rendered by app.js, in red text below the banner.
      let red = 0;
      for (let y = 125; y < 220; y++) {
        for (let x = 0; x < 400; x++) {
          const [r, g, b] = shot.rgb(x, y);
          if (r > 150 && g < 90 && b < 90) red++;
        }
      }
      assert.ok(red > 50, `red title pixels: ${red}`);
      await page.reload();
      await page.locator("#title", { hasText: "visit 2" }).waitFor({ timeout: 10_000 });
      await page.close();

      // The same paths as a program sees them.
      const api = await fetch(`${stead.url}/api/rooms/7`);
      assert.deepEqual(await api.json(), { room: "7", visits: 1 });
      const css = await fetch(`${stead.url}/assets/app.css`);
      assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
      assert.equal(css.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert.equal(css.headers.get("x-frame-options"), "DENY");
      const etag = css.headers.get("etag")!;
      const cached = await fetch(`${stead.url}/assets/app.css`, {
        headers: { "If-None-Match": etag },
      });
      assert.equal(cached.status, 304);
      const words = readFileSync(join(app.path, "public", "assets", "words.txt"));
      const part = await rawGet(`${stead.url}/assets/words.txt`, { Range: "bytes=6-10" });
      assert.equal(part.status, 206);
      assert.equal(part.headers["content-range"], `bytes 6-10/${words.length}`);
      assert.equal(part.body.toString(), "ipsum");
      const gzip = await rawGet(`${stead.url}/assets/words.txt`, { "Accept-Encoding": "gzip" });
      assert.equal(gzip.headers["content-encoding"], "gzip");
      assert.ok(gzip.body.length < words.length / 10, `gzip body ${gzip.body.length} bytes`);
      assert.deepEqual(gunzipSync(gzip.body), words);
      const br = await rawGet(`${stead.url}/assets/words.txt`, { "Accept-Encoding": "br, gzip" });
      assert.equal(br.headers["content-encoding"], "br");
      assert.deepEqual(brotliDecompressSync(br.body), words);
      // A precompressed copy beside the file is sent as it is (not compressed again).
      const style = readFileSync(join(app.path, "public", "assets", "app.css"));
      const styleBr = brotliCompressSync(style, {
        params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11 },
      });
      const styleGz = gzipSync(style, { level: 9 });
      writeFileSync(join(app.path, "public", "assets", "app.css.br"), styleBr);
      writeFileSync(join(app.path, "public", "assets", "app.css.gz"), styleGz);
      const preBr = await rawGet(`${stead.url}/assets/app.css`, { "Accept-Encoding": "gzip, br" });
      assert.equal(preBr.headers["content-encoding"], "br");
      assert.equal(preBr.headers["content-length"], String(styleBr.length));
      assert.deepEqual(preBr.body, styleBr);
      const preGz = await rawGet(`${stead.url}/assets/app.css`, { "Accept-Encoding": "gzip" });
      assert.equal(preGz.headers["content-encoding"], "gzip");
      assert.deepEqual(preGz.body, styleGz);
      assert.deepEqual(gunzipSync(preGz.body), style);
      const plain = await rawGet(`${stead.url}/assets/words.txt`, {});
      assert.equal(plain.headers["content-length"], String(words.length));
      assert.deepEqual(plain.body, words);
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    }
    // KV lives in the data directory: the counts survive a restart.
    await using again = await startStead("start", [app.path, ...HOST], { store });
    assert.deepEqual(await (await fetch(`${again.url}/api/rooms/42`)).json(), {
      room: "42",
      visits: 3,
    });
  });

  it("stead dev serves an asset added while it runs, without a restart", async () => {
    using app = spaCopy();
    using store = testStore();
    await using dev = await startStead("dev", [app.path, ...HOST], { store });
    const before = await fetch(`${dev.url}/fresh.txt`);
    assert.match(await before.text(), /<title>Rooms<\/title>/);
    writeFileSync(join(app.path, "public", "fresh.txt"), "fresh");
    const added = await fetch(`${dev.url}/fresh.txt`);
    assert.equal(await added.text(), "fresh");
    assert.equal(added.headers.get("content-type"), "text/plain; charset=utf-8");
    const starts = dev.logs.filter((record) => String(record.msg).startsWith("Stead is serving"));
    assert.equal(starts.length, 1);
  });
});
