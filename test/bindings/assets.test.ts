import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { brotliCompressSync } from "node:zlib";
import { type AssetsOptions, createRuntime } from "stead";
import { writeFiles } from "../support/app-files.ts";
import { collectGarbage, openFilesUnder } from "../support/open-files.ts";
import { skipUnless, storageOptions } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const WORKER = new URL("../fixtures/assets-worker.ts", import.meta.url);

const SITE: Record<string, string> = {
  "index.html": "<h1>home</h1>",
  "about.html": "<h1>about</h1>",
  "docs/index.html": "<h1>docs</h1>",
  "docs/404.html": "<h1>docs not found</h1>",
  "404.html": "<h1>not found</h1>",
  "app.js": "console.log('app');",
  "style.css": "body{}",
  "data.json": '{"a":1}',
  "logo.svg": "<svg/>",
  "a b.txt": "spaced",
  "big.txt": "0123456789".repeat(10_000),
};

async function site(
  assets: Omit<AssetsOptions, "directory">,
  files: Record<string, string> = SITE,
  compatibilityDate = "2026-01-01",
) {
  const dir = tempDataDir("stead-assets-");
  writeFiles(dir.path, files);
  const warnings: string[] = [];
  const rt = await createRuntime({
    main: WORKER,
    assets: { directory: dir.path, binding: "ASSETS", ...assets },
    compatibilityDate,
    onError: (error, context) => warnings.push(`${context}: ${(error as Error).message}`),
    ...storageOptions(),
  });
  return {
    dir: dir.path,
    warnings,
    get: (path: string, init?: RequestInit) => rt.fetch(`http://example.com${path}`, init),
    async [Symbol.asyncDispose]() {
      await rt.dispose();
      dir[Symbol.dispose]();
    },
  };
}

const navigate = { headers: { "Sec-Fetch-Mode": "navigate", Accept: "text/html" } };

async function summary(response: Response) {
  return {
    status: response.status,
    location: response.headers.get("location"),
    body: await response.text(),
  };
}

describe("static assets (assets)", () => {
  it("serves files before the Worker, with content types, and the Worker for the rest", async () => {
    await using s = await site({});
    const home = await s.get("/");
    assert.equal(home.status, 200);
    assert.equal(home.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(home.headers.get("cache-control"), "public, max-age=0, must-revalidate");
    assert.match(home.headers.get("etag") ?? "", /^"[0-9a-f]{32}"$/);
    assert.equal(await home.text(), "<h1>home</h1>");
    for (const [path, type] of [
      ["/app.js", "text/javascript; charset=utf-8"],
      ["/style.css", "text/css; charset=utf-8"],
      ["/data.json", "application/json; charset=utf-8"],
      ["/logo.svg", "image/svg+xml; charset=utf-8"],
    ] as const) {
      assert.equal((await s.get(path)).headers.get("content-type"), type, path);
    }
    assert.equal(await (await s.get("/a%20b.txt")).text(), "spaced");
    const api = await s.get("/api/users", { method: "POST", body: "x" });
    assert.equal(api.headers.get("x-from"), "worker");
    assert.equal(await api.text(), "worker POST /api/users");
    // A method other than GET/HEAD on an asset's path gets 405 from the assets, as on Cloudflare.
    assert.equal((await s.get("/app.js", { method: "POST", body: "x" })).status, 405);
    const head = await s.get("/app.js", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(SITE["app.js"]!.length));
    assert.equal(await head.text(), "");
  });

  it("maps .html files and trailing slashes as html_handling says", async () => {
    const cases: Record<string, Record<string, [number, string]>> = {
      "auto-trailing-slash": {
        "/about": [200, "<h1>about</h1>"],
        "/about.html": [307, "/about"],
        "/about/": [307, "/about"],
        "/docs": [307, "/docs/"],
        "/docs/": [200, "<h1>docs</h1>"],
        "/docs/index.html": [307, "/docs/"],
        "/index.html": [307, "/"],
        "/index": [307, "/"],
      },
      "force-trailing-slash": {
        "/about": [307, "/about/"],
        "/about/": [200, "<h1>about</h1>"],
        "/about.html": [307, "/about/"],
        "/docs": [307, "/docs/"],
        "/docs/": [200, "<h1>docs</h1>"],
      },
      "drop-trailing-slash": {
        "/about": [200, "<h1>about</h1>"],
        "/about/": [307, "/about"],
        "/docs": [200, "<h1>docs</h1>"],
        "/docs/": [307, "/docs"],
        "/docs/index.html": [307, "/docs"],
        "/": [200, "<h1>home</h1>"],
      },
      none: {
        "/about.html": [200, "<h1>about</h1>"],
        "/docs/index.html": [200, "<h1>docs</h1>"],
      },
    };
    for (const [mode, paths] of Object.entries(cases)) {
      await using s = await site({ html_handling: mode as AssetsOptions["html_handling"] });
      for (const [path, [status, expected]] of Object.entries(paths)) {
        const got = await summary(await s.get(path, { redirect: "manual" }));
        assert.equal(got.status, status, `${mode} ${path}`);
        assert.equal(status === 307 ? got.location : got.body, expected, `${mode} ${path}`);
      }
      if (mode === "none") {
        assert.equal(await (await s.get("/about")).text(), "worker GET /about");
        assert.equal(await (await s.get("/docs/")).text(), "worker GET /docs/");
      }
    }
  });

  it("falls back to index.html for navigations only, as a single-page application", async () => {
    await using s = await site({ not_found_handling: "single-page-application" });
    const page = await s.get("/rooms/42", navigate);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<h1>home</h1>");
    // fetch() from the page (no navigation) reaches the Worker: the app's API.
    assert.equal(await (await s.get("/rooms/42")).text(), "worker GET /rooms/42");
    // Through the binding, the fallback applies whatever the request.
    assert.equal(await (await s.get("/from-binding/rooms/42")).text(), "<h1>home</h1>");
  });

  it("before compatibility date 2025-04-01, misses reach the Worker even for navigations", async () => {
    await using s = await site(
      { not_found_handling: "single-page-application" },
      SITE,
      "2025-03-01",
    );
    assert.equal(await (await s.get("/rooms/42", navigate)).text(), "worker GET /rooms/42");
  });

  it("serves the nearest 404.html with status 404", async () => {
    await using s = await site({ not_found_handling: "404-page" });
    const nested = await s.get("/docs/missing/page", navigate);
    assert.equal(nested.status, 404);
    assert.equal(await nested.text(), "<h1>docs not found</h1>");
    const top = await s.get("/nothing", navigate);
    assert.equal(top.status, 404);
    assert.equal(await top.text(), "<h1>not found</h1>");
    const binding = await s.get("/from-binding/nothing");
    assert.equal(binding.status, 404);
    assert.equal(await binding.text(), "<h1>not found</h1>");
  });

  it("routes by run_worker_first: true, or route patterns with ! exclusions", async () => {
    {
      await using s = await site({ run_worker_first: true });
      assert.equal(await (await s.get("/app.js")).text(), "worker GET /app.js");
      assert.equal(await (await s.get("/from-binding/app.js")).text(), SITE["app.js"]);
    }
    await using s = await site(
      {
        run_worker_first: ["/api/*", "!/api/docs/*"],
        not_found_handling: "single-page-application",
        html_handling: "none",
      },
      { ...SITE, "api/docs/x.html": "docs x", "api/real.txt": "real" },
    );
    assert.equal(await (await s.get("/api/real.txt")).text(), "worker GET /api/real.txt");
    assert.equal(await (await s.get("/api/docs/x.html")).text(), "docs x");
    // With route patterns, the not-found handling applies to every request the assets get.
    assert.equal(await (await s.get("/somewhere")).text(), "<h1>home</h1>");
  });

  it("answers If-None-Match with 304 and serves single byte ranges", async () => {
    await using s = await site({});
    const first = await s.get("/big.txt");
    const etag = first.headers.get("etag")!;
    assert.equal(first.headers.get("accept-ranges"), "bytes");
    assert.equal((await first.text()).length, 100_000);
    const again = await s.get("/big.txt", { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), etag);
    assert.equal(await again.text(), "");
    assert.equal(
      (await s.get("/big.txt", { headers: { "If-None-Match": `W/${etag}` } })).status,
      304,
    );
    assert.equal(
      (await s.get("/big.txt", { headers: { "If-None-Match": '"other"' } })).status,
      200,
    );
    const part = await s.get("/big.txt", { headers: { Range: "bytes=10-19" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 10-19/100000");
    assert.equal(part.headers.get("content-length"), "10");
    assert.equal(part.headers.get("cache-control"), null);
    assert.equal(await part.text(), "0123456789");
    const tail = await s.get("/big.txt", { headers: { Range: "bytes=-5" } });
    assert.equal(tail.headers.get("content-range"), "bytes 99995-99999/100000");
    assert.equal(await tail.text(), "56789");
    const open = await s.get("/big.txt", { headers: { Range: "bytes=99998-" } });
    assert.equal(await open.text(), "89");
    const past = await s.get("/big.txt", { headers: { Range: "bytes=100000-" } });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get("content-range"), "bytes */100000");
    const stale = await s.get("/big.txt", { headers: { Range: "bytes=0-1", "If-Range": '"old"' } });
    assert.equal(stale.status, 200);
    // A file that changes gets a new ETag at once.
    writeFileSync(join(s.dir, "big.txt"), "changed");
    const changed = await s.get("/big.txt", { headers: { "If-None-Match": etag } });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), "changed");
  });

  it("closes the file of a body dropped unread or half read, without ending the process", async () => {
    await using s = await site({});
    // In a function of its own, so that no frame of the test's keeps the last body.
    const dropBodies = async () => {
      for (let i = 0; i < 20; i++) {
        const response = await s.get("/big.txt");
        if (i % 2 === 0) await response.body!.getReader().read();
      }
    };
    await dropBodies();
    await eventually("the dropped bodies' files are closed", async () => {
      await collectGarbage();
      return openFilesUnder(s.dir) === 0 ? true : undefined;
    });
  });

  it("marks compressible responses for br or gzip, which the HTTP server then encodes", async () => {
    await using s = await site({});
    const br = await s.get("/big.txt", { headers: { "Accept-Encoding": "gzip, br" } });
    assert.equal(br.headers.get("content-encoding"), "br");
    assert.match(br.headers.get("etag") ?? "", /^W\/"/);
    assert.equal(br.headers.get("vary"), "Accept-Encoding");
    assert.equal(br.headers.get("content-length"), null);
    const gzip = await s.get("/big.txt", { headers: { "Accept-Encoding": "gzip, br;q=0" } });
    assert.equal(gzip.headers.get("content-encoding"), "gzip");
    const none = await s.get("/big.txt", { headers: { "Accept-Encoding": "identity" } });
    assert.equal(none.headers.get("content-encoding"), null);
    const small = await s.get("/app.js", { headers: { "Accept-Encoding": "br" } });
    assert.equal(small.headers.get("content-encoding"), null);
    // With a precompressed copy the body is still the content: the server sends the copy.
    writeFileSync(join(s.dir, "app.js.br"), brotliCompressSync(SITE["app.js"]!));
    const pre = await s.get("/app.js", { headers: { "Accept-Encoding": "br" } });
    assert.equal(pre.headers.get("content-encoding"), "br");
    assert.equal(await pre.text(), SITE["app.js"]);
  });

  it("applies _headers rules with splats, placeholders and ! removal", async () => {
    await using s = await site(
      {},
      {
        ...SITE,
        _headers: [
          "# comments are ignored",
          "/*",
          "  X-Frame-Options: DENY",
          "  X-Robots-Tag: noindex",
          "/docs/*",
          "  X-Section: docs-:splat",
          "  ! X-Robots-Tag",
          "/:file.js",
          "  Cache-Control: public, max-age=31536000, immutable",
          "  X-File: :file",
          "https://:sub.example.com/about",
          "  X-Sub: :sub",
        ].join("\n"),
      },
    );
    const home = await s.get("/");
    assert.equal(home.headers.get("x-frame-options"), "DENY");
    assert.equal(home.headers.get("x-robots-tag"), "noindex");
    const docs = await s.get("/docs/");
    assert.equal(docs.headers.get("x-section"), "docs-");
    assert.equal(docs.headers.get("x-robots-tag"), null);
    const js = await s.get("/app.js");
    assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(js.headers.get("x-file"), "app");
    const sub = await s.get("/about");
    assert.equal(sub.headers.get("x-sub"), null);
    const hosted = await new Promise<Response>((resolve) => resolve(s.get("/about")));
    assert.equal(hosted.headers.get("x-frame-options"), "DENY");
    // Responses of the Worker get none of them.
    assert.equal((await s.get("/worker-path")).headers.get("x-frame-options"), null);
    // _headers itself is never served.
    assert.equal(await (await s.get("/_headers")).text(), "worker GET /_headers");
  });

  it("applies _redirects: static and dynamic rules, statuses, and 200 rewrites", async () => {
    await using s = await site(
      {},
      {
        ...SITE,
        _redirects: [
          "/old /about 301",
          "/blog/:year/:slug /posts/:slug?y=:year",
          "/go/* https://example.org/:splat 308",
          "/rewrite /docs/ 200",
          "/missing-rewrite /nope.html 200",
          "/* /index.html",
        ].join("\n"),
      },
    );
    assert.deepEqual(await summary(await s.get("/old?q=1", { redirect: "manual" })), {
      status: 301,
      location: "/about?q=1",
      body: "",
    });
    assert.deepEqual(await summary(await s.get("/blog/2025/hello", { redirect: "manual" })), {
      status: 302,
      location: "/posts/hello?y=2025",
      body: "",
    });
    assert.deepEqual(await summary(await s.get("/go/a/b", { redirect: "manual" })), {
      status: 308,
      location: "https://example.org/a/b",
      body: "",
    });
    assert.deepEqual(await summary(await s.get("/rewrite")), {
      status: 200,
      location: null,
      body: "<h1>docs</h1>",
    });
    assert.equal((await s.get("/missing-rewrite")).status, 404);
    // "/* /index.html" loops and is refused (and reported); other paths reach the Worker.
    assert.equal(await (await s.get("/elsewhere")).text(), "worker GET /elsewhere");
    assert.deepEqual(s.warnings, [
      `assets: ${join(s.dir, "_redirects")}: line 6: /* /index.html: this rule would redirect forever (the asset server strips /index.html and the rule matches again); ignored`,
    ]);
  });

  it("never serves a path outside the directory", async () => {
    const outside = tempDataDir("stead-outside-");
    writeFileSync(join(outside.path, "secret.txt"), "secret");
    using _ = outside;
    await using s = await site(
      { html_handling: "none" },
      {
        ...SITE,
        "sub/x.txt": "x",
      },
    );
    const name = outside.path.split("/").at(-1);
    for (const path of [
      `/../${name}/secret.txt`,
      `/%2e%2e/${name}/secret.txt`,
      `/sub/%2e%2e/%2e%2e/${name}/secret.txt`,
      `/sub/..%2f..%2f${name}%2fsecret.txt`,
      "/%00secret.txt",
      "/sub%5c..%5c..%5csecret.txt",
    ]) {
      const response = await s.get(path);
      assert.notEqual(await response.text(), "secret", path);
    }
  });

  it("env.ASSETS works from Durable Objects on object threads", {
    skip: skipUnless("threads", "runs objects on object threads"),
  }, async () => {
    using dir = tempDataDir("stead-assets-");
    writeFiles(dir.path, SITE);
    await using rt = await createRuntime({
      main: WORKER,
      durableObjects: { PAGES: "Pages" },
      assets: { directory: dir.path, binding: "ASSETS", not_found_handling: "404-page" },
      threads: 2,
      ...storageOptions(),
    });
    const pages = ["a", "b", "c"].map((name) => (rt.env.PAGES as any).getByName(name));
    assert.deepEqual(await Promise.all(pages.map((stub) => stub.page("/about"))), [
      { status: 200, type: "text/html; charset=utf-8", body: "<h1>about</h1>" },
      { status: 200, type: "text/html; charset=utf-8", body: "<h1>about</h1>" },
      { status: 200, type: "text/html; charset=utf-8", body: "<h1>about</h1>" },
    ]);
    assert.deepEqual(await pages[0].page("/docs/gone"), {
      status: 404,
      type: "text/html; charset=utf-8",
      body: "<h1>docs not found</h1>",
    });
  });

  it("serves an app of static assets only (no main) as Cloudflare does", async () => {
    using dir = tempDataDir("stead-assets-only-");
    writeFiles(dir.path, {
      "wrangler.jsonc": `{ "name": "site", "compatibility_date": "2026-01-01",
        "assets": { "directory": "./dist", "not_found_handling": "404-page" } }`,
      ...Object.fromEntries(Object.entries(SITE).map(([name, text]) => [`dist/${name}`, text])),
    });
    await using rt = await createRuntime({ config: dir.path, ...storageOptions() });
    assert.equal(await (await rt.fetch("http://site/")).text(), "<h1>home</h1>");
    // Every request goes to the assets, navigation or not; other methods get 405.
    const missing = await rt.fetch("http://site/api/nothing");
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "<h1>not found</h1>");
    assert.equal((await rt.fetch("http://site/api", { method: "POST", body: "x" })).status, 405);
    assert.equal((await rt.fetch("http://site/about.html", { redirect: "manual" })).status, 307);
  });

  it("serves files added or changed while running", async () => {
    await using s = await site({ not_found_handling: "none" });
    assert.equal(await (await s.get("/new.txt")).text(), "worker GET /new.txt");
    writeFileSync(join(s.dir, "new.txt"), "fresh");
    assert.equal(await (await s.get("/new.txt")).text(), "fresh");
    writeFileSync(join(s.dir, "_headers"), "/new.txt\n  X-New: yes\n");
    await eventually("the new _headers applies", async () =>
      (await s.get("/new.txt")).headers.get("x-new") === "yes" ? true : undefined,
    );
  });
});
