// The web console, as an operator uses it: `stead start --admin-port` serves it, Chromium opens
// it, signs in with the token (typed, or from the link the server logs), and browses a class, an
// object, its KV entries and tables, and runs SQL. Every page runs under the console's CSP with no
// error, and no request reaches the API without the token.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Locator, Page } from "playwright-core";
import { createRuntime, ManualClock } from "../../src/index.ts";
import { adminOf } from "../support/admin.ts";
import { roomApp } from "../support/app-files.ts";
import { launchChromium } from "../support/browser.ts";
import { deadLetterAlarms } from "../support/dead-letters.ts";
import { decodePng, type Png } from "../support/png.ts";
import { type SteadProcess, startStead } from "../support/stead-process.ts";
import { storageOptions, type TestStore, testStore } from "../support/storage.ts";
import { waitFor } from "../support/wait-for.ts";

// The module itself (alarms that fail on demand), as the alarm tests load it.
const alarmWorker = await import("../fixtures/alarm-worker.ts");

/** Set to a directory to keep the screenshots the tests check. */
const SHOTS = process.env.STEAD_CONSOLE_SCREENSHOTS;

/** A chat app: each room keeps messages in SQL, one KV key per message, and an alarm. */
const WORKER = `
import { DurableObject } from "cloudflare:workers";
export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, author TEXT, text TEXT)");
  }
  async seed(count) {
    for (let i = 1; i <= count; i++) {
      this.ctx.storage.sql.exec(
        "INSERT INTO messages (author, text) VALUES (?, ?)",
        ["ada", "grace", "edsger"][i % 3],
        "message " + i,
      );
      this.ctx.storage.kv.put("key:" + String(i).padStart(3, "0"), { i, text: "value " + i });
    }
    await this.ctx.storage.setAlarm(Date.now() + 3_600_000);
    return count;
  }
  async alarm() {}
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const room = env.ROOM.getByName(url.pathname.slice(1));
    return Response.json(await room.seed(Number(url.searchParams.get("n") ?? "1")));
  },
};
`;

function chatApp(): { path: string } & Disposable {
  return roomApp(WORKER, "stead-console-app-");
}

/** Seeds `lobby` with 60 messages and keys, and 11 more rooms with one each: 12 objects. */
async function seed(url: string): Promise<void> {
  const rooms = [["lobby", 60], ...Array.from({ length: 11 }, (_, i) => [`room-${i + 1}`, 1])];
  for (const [room, n] of rooms) {
    const response = await fetch(`${url}/${room}?n=${n}`);
    assert.equal(response.status, 200, await response.text());
  }
}

/**
 * Watches a page for what must never happen: a script error, a console error other than an API
 * answer the page shows (a refused token, a failed query, no metrics), a CSP violation, a request
 * to the API without a bearer token, or the token in a URL.
 */
function watch(page: Page, token: string) {
  const problems: string[] = [];
  let apiCalls = 0;
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (/^Failed to load resource: the server responded with a status of 40[0134]/.test(text)) {
      return;
    }
    problems.push(`console error: ${text}`);
  });
  page.on("request", async (request) => {
    const url = new URL(request.url());
    if (request.url().includes(token)) problems.push(`token in a URL: ${request.url()}`);
    if (!url.pathname.startsWith("/api/") && url.pathname !== "/metrics") return;
    apiCalls++;
    const authorization = (await request.allHeaders()).authorization;
    if (!authorization?.startsWith("Bearer ")) {
      problems.push(`${request.method()} ${url.pathname} without a bearer token`);
    }
  });
  return {
    /** Fails on anything seen; `expectApi`: the page called the API at least once. */
    async check(expectApi = true) {
      const violations = await page.evaluate(
        () => (globalThis as { cspViolations?: string[] }).cspViolations ?? [],
      );
      assert.deepEqual([...problems, ...violations.map((v) => `CSP violation: ${v}`)], []);
      if (expectApi) assert.ok(apiCalls > 0, "the page called the API");
    },
  };
}

/** A page that records CSP violations (its init script runs outside the page's CSP). */
async function newPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as { cspViolations?: string[] }).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) =>
      seen.push(`${event.violatedDirective} ${event.blockedURI}`),
    );
  });
  return page;
}

/** A screenshot of `target`, decoded (and kept under STEAD_CONSOLE_SCREENSHOTS when set). */
async function shot(target: Page | Locator, name: string): Promise<Png> {
  const png = await ("goto" in target
    ? target.screenshot({ fullPage: true })
    : target.screenshot());
  if (SHOTS !== undefined) {
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, `${name}.png`), png);
  }
  return decodePng(png);
}

/** Pixels of `png` for which `test(r, g, b)` holds. */
function pixels(png: Png, test: (r: number, g: number, b: number) => boolean): number {
  let n = 0;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) if (test(...png.rgb(x, y))) n++;
  }
  return n;
}

/** The text of each cell of `rows`. */
function cells(rows: Locator): Promise<string[][]> {
  return rows.evaluateAll((list) =>
    list.map((row) => Array.from((row as HTMLTableRowElement).cells, (cell) => cell.textContent)),
  );
}

/** The header bar's colour (console.css `--top`). */
const TOP = [30, 41, 59];

const dark = (r: number, g: number, b: number) => r < 110 && g < 110 && b < 110;

function adminListenerOf(stead: SteadProcess): { url: string; line: string } {
  const record = stead.logs.find((entry) => typeof entry.adminUrl === "string");
  assert.ok(record, "stead start logged its admin URL");
  return { url: String(record.adminUrl), line: String(record.msg) };
}

describe("the web console", () => {
  let browser: Browser;
  let store: TestStore;
  let app: { path: string } & Disposable;
  let stead: SteadProcess;
  let admin: { url: string; line: string };
  let token: string;

  before(async () => {
    store = testStore();
    app = chatApp();
    // One at a time: a server that fails to start must not leave a browser behind.
    browser = await launchChromium();
    stead = await startStead("start", [app.path, "--admin-port", "0"], {
      store,
      env: { ...store.env, STEAD_ADMIN_TOKEN: undefined, STEAD_ADMIN_READ_TOKEN: undefined },
    });
    await seed(stead.url);
    admin = adminListenerOf(stead);
    token = JSON.parse(readFileSync(join(store.dataDir, "admin.json"), "utf8")).token;
    assert.ok(token, "the server made a token");
  });
  after(async () => {
    await browser?.close();
    await stead?.[Symbol.asyncDispose]();
    app?.[Symbol.dispose]();
    store?.[Symbol.dispose]();
  });

  /** Calls the admin API as the test (not the page). */
  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${admin.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    });

  it("serves its files without a token, under a strict CSP; the API still needs one", async () => {
    const page = await fetch(`${admin.url}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=|\son\w+=/);
    for (const [path, type] of [
      ["/console/main.js", "text/javascript; charset=utf-8"],
      ["/console/console.css", "text/css; charset=utf-8"],
      ["/console/icon.svg", "image/svg+xml"],
    ] as const) {
      const file = await fetch(`${admin.url}${path}`);
      assert.equal(file.status, 200, path);
      assert.equal(file.headers.get("content-type"), type, path);
      assert.ok((await file.text()).length > 0, path);
    }
    for (const path of [
      "/console/nope.js",
      "/console/tsconfig.json",
      "/console/%2e%2e%2fadmin-server.ts",
    ]) {
      assert.equal((await fetch(`${admin.url}${path}`)).status, 404, path);
    }
    // Only GET and HEAD of the console's files go without a token.
    assert.equal((await fetch(`${admin.url}/`, { method: "POST" })).status, 401);
    for (const path of ["/api/v1/namespaces", "/metrics", "/console/../api/v1/dead-letters"]) {
      const response = await fetch(`${admin.url}${path}`);
      assert.equal(response.status, 401, path);
      assert.deepEqual(await response.json(), { error: "unauthorized" });
    }
    // The server made the token, so it logs the console's link with it (in the fragment).
    assert.ok(
      admin.line.endsWith(`Console: ${admin.url}/#token=${token}`),
      `the log line names the console: ${admin.line}`,
    );
  });

  it("refuses a wrong token at the sign-in form, and a stored one the server no longer takes", async () => {
    const page = await newPage(browser);
    const watcher = watch(page, token);
    await page.goto(`${admin.url}/`);
    await page.getByLabel("Admin token").fill("not-the-token-at-all");
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = page.locator("#sign-in-error");
    await error.getByText("The server refused this token").waitFor();
    assert.equal(
      await page.evaluate(() => sessionStorage.length),
      0,
      "a refused token is not kept",
    );
    const screenshot = await shot(page, "sign-in-refused");
    assert.deepEqual(screenshot.rgb(5, 5), TOP);
    const alert = await shot(error, "sign-in-error");
    assert.ok(pixels(alert, (r, g, b) => r > 150 && g < 90 && b < 90) > 50, "red error text");

    // A token kept from an earlier session that the server refuses: back to the form.
    await page.evaluate(() =>
      sessionStorage.setItem("stead-admin-token", "an-old-token-from-before"),
    );
    await page.reload();
    await page.getByText("The server refused the token. Sign in again.").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await watcher.check();
    await page.close();
  });

  it("browses a class, an object, its keys and tables, and runs SQL", async () => {
    const page = await newPage(browser);
    const watcher = watch(page, token);
    await page.goto(`${admin.url}/`);
    await page.getByLabel("Admin token").fill(token);
    await page.getByLabel("Admin token").press("Enter");

    // Overview: the class with its object count, and the metrics panel.
    const room = page.locator("#namespaces tbody tr", { hasText: "Room" });
    await room.waitFor();
    assert.deepEqual(await room.locator("th, td").allTextContents(), [
      "Room",
      "Room",
      "SQLite",
      "12",
    ]);
    // Live charts of the server's own /metrics: the rooms just seeded are in memory.
    const active = page.locator('[data-chart="Active objects"] .chart-value', { hasText: /^\d+$/ });
    await active.waitFor();
    const inMemory = Number(await active.textContent());
    assert.ok(inMemory >= 1 && inMemory <= 12, `active objects: ${inMemory}`);
    await page.locator('[data-chart="Open WebSockets"] .chart-value', { hasText: "0" }).waitFor();
    const overview = await shot(page, "overview");
    assert.deepEqual(overview.rgb(5, 5), TOP);

    // The class: its objects a page at a time.
    await room.getByRole("link", { name: "Room" }).click();
    await page.locator("#object-total", { hasText: "12 objects stored." }).waitFor();
    const rows = page.locator("#object-list tbody tr");
    assert.equal(await rows.count(), 12);
    await page.getByLabel("Per page").selectOption("10");
    const status = page.locator("#object-list .pager-status");
    await status.getByText("Objects 1–10 of 12").waitFor();
    assert.equal(await rows.count(), 10);
    await page.getByRole("button", { name: "Next" }).click();
    await status.getByText("Objects 11–12 of 12").waitFor();
    assert.equal(await rows.count(), 2);
    assert.ok(await page.getByRole("button", { name: "Next" }).isDisabled());
    await page.getByRole("button", { name: "Previous" }).click();
    await status.getByText("Objects 1–10 of 12").waitFor();
    for (const id of await page.locator("#object-list tbody tr td:first-child").allTextContents()) {
      assert.match(id, /^[0-9a-f]{64}$/);
    }

    // Search by name: what the server answers (a storage without an object catalog refuses).
    await page.getByLabel("Name starts with").fill("lob");
    await page.getByRole("button", { name: "Search" }).click();
    const search = await call("/api/v1/namespaces/Room/objects?prefix=lob");
    if (search.status === 400) {
      const { error } = (await search.json()) as { error: string };
      await page.locator("#search-note", { hasText: "Search by name is not available" }).waitFor();
      assert.ok((await page.locator("#search-note").textContent())?.includes(error));
      assert.equal(await rows.count(), 10, "the list stays as it was");
      const namespace = await shot(page, "namespace");
      assert.ok(
        pixels(namespace, (r, g, b) => r === 255 && g === 251 && b === 235) > 1000,
        "the note's background",
      );
    } else {
      assert.equal(search.status, 200);
      await page.locator("#object-total", { hasText: "1 object named" }).waitFor();
      await rows.filter({ hasText: "lobby" }).waitFor();
    }

    // Open an object by its name.
    await page.getByLabel("Name or id").fill("lobby");
    await page.getByRole("button", { name: "Open" }).click();
    await page.locator("h1", { hasText: "lobby" }).waitFor();
    const summary = page.locator("#summary");
    await summary.getByText("60 keys").waitFor();
    const terms = await summary
      .locator("dl > div")
      .evaluateAll((items) =>
        Object.fromEntries(
          items.map((item) => [item.children[0]!.textContent, item.children[1]!.textContent]),
        ),
      );
    assert.equal(terms.Name, "lobby");
    assert.match(terms.Id!, /^[0-9a-f]{64}$/);
    assert.equal(terms["SQL tables"], "messages · 60 rows");
    assert.match(terms["Key-value storage"]!, /^60 keys · [\d.]+ KiB$/);
    assert.match(terms.Alarm!, /\(in (59|60) minutes\)$/);
    assert.equal(terms.WebSockets, "0 hibernatable · 0 standard");
    assert.match(terms["Last activity"]!, /\((now|\d+ seconds ago)\)$/);

    // KV entries, 25 a page.
    const kv = page.locator("#kv");
    const keys = kv.locator("tbody tr td:first-child");
    await kv.getByText("Keys 1–25 of 60").waitFor();
    assert.equal(await keys.count(), 25);
    assert.equal(await keys.first().textContent(), "key:001");
    const [key, size, value] = await kv.locator("tbody tr").first().locator("td").allTextContents();
    assert.deepEqual([key, value], ["key:001", "{ i: 1, text: 'value 1' }"]);
    assert.match(size!, /^\d+ bytes$/);
    await kv.getByRole("button", { name: "Next" }).click();
    await kv.getByText("Keys 26–50 of 60").waitFor();
    assert.equal(await keys.first().textContent(), "key:026");
    await kv.getByRole("button", { name: "Next" }).click();
    await kv.getByText("Keys 51–60 of 60").waitFor();
    assert.equal(await keys.count(), 10);
    assert.ok(await kv.getByRole("button", { name: "Next" }).isDisabled());
    await kv.getByRole("button", { name: "Previous" }).click();
    await kv.getByText("Keys 26–50 of 60").waitFor();

    // A table, 25 rows a page.
    await page.getByRole("tab", { name: "Tables (1)" }).click();
    const table = page.locator("#tables");
    await table.getByText("Rows 1–25 of 60").waitFor();
    assert.deepEqual(await table.locator("thead th").allTextContents(), [
      "#",
      "id",
      "author",
      "text",
    ]);
    await table.getByRole("button", { name: "Next" }).click();
    await table.getByText("Rows 26–50 of 60").waitFor();
    assert.deepEqual(await table.locator("tbody tr").first().locator("td").allTextContents(), [
      "26",
      "26",
      "edsger",
      "message 26",
    ]);

    // A read-only query and its grid, in the SQL tab (reached with the arrow keys).
    await page.getByRole("tab", { name: "Tables" }).press("ArrowRight");
    assert.equal(
      await page.getByRole("tab", { name: "SQL" }).getAttribute("aria-selected"),
      "true",
    );
    const query = page.getByRole("textbox", { name: "Query" });
    const result = page.locator("#sql-result");
    await query.fill("SELECT author, count(*) AS n FROM messages GROUP BY author ORDER BY author");
    await page.getByRole("button", { name: "Run" }).click();
    await result.getByText(/^3 rows · \d+ read · 0 written/).waitFor();
    assert.deepEqual(await result.locator("thead th").allTextContents(), ["author", "n"]);
    assert.deepEqual(await cells(result.locator("tbody tr")), [
      ["ada", "20"],
      ["edsger", "20"],
      ["grace", "20"],
    ]);
    const objectPage = await shot(page, "object");
    assert.deepEqual(objectPage.rgb(5, 5), TOP);
    const grid = await shot(result, "query-grid");
    assert.ok(pixels(grid, dark) > 300, "the grid's text rendered");

    // A write without "Allow writes": refused, nothing ran.
    await query.fill("DELETE FROM messages WHERE id > ?");
    await page.getByLabel("Parameters").fill("[50]");
    await query.press("Control+Enter");
    await result.locator(".error", { hasText: "was refused, nothing ran" }).waitFor();
    await result.getByText("Check “Allow writes” to run it.").waitFor();
    const count = await call("/api/v1/namespaces/Room/objects/lobby/sql", {
      method: "POST",
      body: JSON.stringify({ query: "SELECT count(*) FROM messages" }),
    });
    assert.deepEqual(((await count.json()) as { rows: unknown }).rows, [[60]]);

    // SQLite's error text.
    await page.getByLabel("Parameters").fill("");
    await query.fill("SELECT * FROM nope");
    await page.getByRole("button", { name: "Run" }).click();
    const failure = result.locator(".error", { hasText: "no such table: nope" });
    await failure.waitFor();
    const errorShot = await shot(failure, "query-error");
    assert.ok(pixels(errorShot, (r, g, b) => r > 150 && g < 90 && b < 90) > 50, "red error text");
    assert.ok(pixels(errorShot, (r, g, b) => r === 254 && g === 242 && b === 242) > 500);

    // With "Allow writes", it runs, and the summary shows the change.
    await query.fill("DELETE FROM messages WHERE id > ?");
    await page.getByLabel("Parameters").fill("[50]");
    await page.getByLabel("Allow writes").check();
    await page.getByRole("button", { name: "Run" }).click();
    await result.getByText(/^0 rows · \d+ read · 10 written/).waitFor();
    await summary.getByText("messages · 50 rows").waitFor();
    await page.getByRole("tab", { name: "Tables" }).click();
    await table.getByText("Rows 1–25 of 50").waitFor();

    // The class's crumb leads back; the dead letters page lists none here.
    await page
      .getByRole("navigation", { name: "Breadcrumb" })
      .getByRole("link", { name: "Room" })
      .click();
    await page.locator("#object-total", { hasText: "12 objects stored." }).waitFor();
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.getByText("No alarm has failed every retry.").waitFor();
    await watcher.check();
    await page.close();
  });

  it("signs in from the link the server logs, and keeps the token out of the address", async () => {
    const link = /Console: (\S+)$/.exec(admin.line)![1]!;
    const page = await newPage(browser);
    const watcher = watch(page, token);
    await page.goto(link);
    await page.locator("#namespaces tbody tr", { hasText: "Room" }).waitFor();
    assert.equal(page.url(), `${admin.url}/#/`);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("stead-admin-token")), token);
    // An object's page by address; an unknown object is named in the error.
    await page.goto(`${admin.url}/#/ns/Room/obj/attic`);
    await page.locator("#summary .error", { hasText: "Room has no object attic" }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Admin token").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await watcher.check();
    await page.close();
  });

  it("charts the metrics over time", async () => {
    const page = await newPage(browser);
    const watcher = watch(page, token);
    // Readings as a server with metrics gives them: counters that grow, a gauge.
    let reading = 0;
    await page.route(`${admin.url}/metrics`, async (route) => {
      reading++;
      await route.fulfill({
        status: 200,
        contentType: "text/plain; version=0.0.4; charset=utf-8",
        body: [
          "# HELP stead_http_requests_total Requests answered.",
          "# TYPE stead_http_requests_total counter",
          `stead_http_requests_total{status="200"} ${reading * 40}`,
          `stead_http_requests_total{status="500",path="a \\"quoted\\" one"} ${reading}`,
          "# TYPE stead_objects_active gauge",
          `stead_objects_active{namespace="Room"} ${reading === 1 ? 2 : 3}`,
          `stead_objects_active{namespace="Other"} 4`,
          "",
        ].join("\n"),
      });
    });
    await page.goto(`${admin.url}/#token=${encodeURIComponent(token)}`);
    const requests = page.locator('[data-chart="Requests/s"]');
    const active = page.locator('[data-chart="Active objects"]');
    await active.locator(".chart-value", { hasText: "7" }).waitFor({ timeout: 10_000 });
    // A rate takes two readings, and a line two rates.
    await page.waitForFunction(
      () =>
        /L/.test(
          document.querySelector('[data-chart="Requests/s"] .chart-line')?.getAttribute("d") ?? "",
        ),
      undefined,
      { timeout: 10_000 },
    );
    const rate = Number(await requests.locator(".chart-value").textContent());
    assert.ok(rate > 5 && rate < 100, `requests/s ${rate}`);
    assert.match(
      (await active.locator("svg path.chart-line").getAttribute("d")) ?? "",
      /^M[\d.]+,[\d.]+L/,
    );
    assert.match(
      (await page.locator('[data-chart="Open WebSockets"]').getAttribute("class")) ?? "",
      /chart-missing/,
    );
    const chart = await shot(requests.locator("svg"), "chart");
    assert.ok(pixels(chart, (r, g, b) => r < 60 && g > 80 && g < 120 && b > 200) > 20, "the line");
    await shot(page, "metrics");
    await watcher.check();
    await page.close();
  });

  it("lists, retries and discards dead-lettered alarms", async () => {
    // Alarms that fail every retry, on a clock the test advances through the retries.
    const clock = new ManualClock(Date.now() - 600_000);
    await using rt = await createRuntime({
      main: alarmWorker,
      durableObjects: { ALARMED: "Alarmed" },
      clock,
      onError: () => {},
      ...storageOptions(),
    });
    await deadLetterAlarms(rt, clock, ["first", "second"]);
    const first = rt.env.ALARMED.getByName("first");
    await using server = await adminOf(rt);

    const page = await newPage(browser);
    const watcher = watch(page, server.token);
    await page.goto(`${server.url}/#token=${server.token}`);
    await page.getByText("2 alarms failed every retry.").waitFor();
    // This listener was given no metrics: the panel says so.
    await page
      .locator("#metrics-unavailable", {
        hasText: "Metrics not available. This server keeps no metrics.",
      })
      .waitFor();
    await page.getByRole("link", { name: "See them" }).click();
    const rows = page.locator("#dead-letters tbody tr");
    await rows.first().waitFor();
    const table = await cells(rows);
    assert.deepEqual(table.map(([object, , retries]) => [object, retries]).sort(), [
      ["Alarmed first", "6"],
      ["Alarmed second", "6"],
    ]);
    for (const row of table) assert.match(row[4]!, /^Error: alarm failure 7Stack/);
    const screenshot = await shot(page, "dead-letters");
    assert.deepEqual(screenshot.rgb(5, 5), TOP);
    assert.ok(pixels(screenshot, dark) > 1000, "the table's text rendered");

    // The cause fixed, a retry runs the alarm again, once.
    await first.failTimes(0);
    await page.getByRole("button", { name: "Retry Alarmed first" }).click();
    await page
      .getByText("Retried Alarmed first: its alarm runs now (1 dead letter cleared).")
      .waitFor();
    await rows.filter({ hasText: "Alarmed first" }).waitFor({ state: "detached" });
    assert.equal(await rows.count(), 1);
    await clock.advance(0);
    await waitFor(async () => (await first.runs()).length === 8, "the retried alarm to run");

    // A discard asks first; Cancel keeps it.
    await page.getByRole("button", { name: "Discard Alarmed second" }).click();
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.getByRole("button", { name: "Discard Alarmed second" }).click();
    await page.getByRole("button", { name: "Discard for good" }).click();
    await page.getByText("Discarded 1 dead letter of Alarmed second.").waitFor();
    await page.getByText("No alarm has failed every retry.").waitFor();
    assert.deepEqual(rt.alarmDeadLetters(), []);
    await watcher.check();
    await page.close();
  });

  it("with the operator's tokens: no token in the log, and a read-only token cannot write", async () => {
    using other = testStore();
    const readWrite = "rw-token-for-the-console-tests";
    const readOnly = "ro-token-for-the-console-tests";
    await using server = await startStead("start", [app.path, "--admin-port", "0"], {
      store: other,
      env: { ...other.env, STEAD_ADMIN_TOKEN: readWrite, STEAD_ADMIN_READ_TOKEN: readOnly },
    });
    await fetch(`${server.url}/kitchen?n=3`);
    const { url, line } = adminListenerOf(server);
    assert.ok(line.endsWith(`Console: ${url}/`), line);
    assert.doesNotMatch(line, /token=|rw-token|ro-token/);

    const page = await newPage(browser);
    const watcher = watch(page, readOnly);
    await page.goto(`${url}/#/ns/Room/obj/kitchen`);
    await page.getByLabel("Admin token").fill(readOnly);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("h1", { hasText: "kitchen" }).waitFor();
    await page.getByRole("tab", { name: "SQL" }).click();
    await page.getByRole("textbox", { name: "Query" }).fill("DELETE FROM messages");
    await page.getByLabel("Allow writes").check();
    await page.getByRole("button", { name: "Run" }).click();
    await page.locator("#sql-result .error", { hasText: "the token given is read-only" }).waitFor();
    await watcher.check();
    await page.close();
  });
});
