import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseHeadersFile } from "./headers-file.ts";
import { findRedirect, parseRedirectsFile } from "./redirects-file.ts";
import { compileRoutePattern, compileRulePattern, matchRule } from "./rule-pattern.ts";

describe("_headers", () => {
  it("reads rules, joins repeated names, and removes with !", () => {
    const parsed = parseHeadersFile(
      ["/*", "  X-A: 1", "  x-a: 2", "  ! Server", "", "/docs/:page", "  Link: </:page.css>"].join(
        "\n",
      ),
    );
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(
      parsed.rules.map(({ path, set, unset }) => ({ path, set, unset })),
      [
        { path: "/*", set: { "x-a": "1, 2" }, unset: ["Server"] },
        { path: "/docs/:page", set: { link: "</:page.css>" }, unset: [] },
      ],
    );
  });

  it("skips bad lines and says why, within Cloudflare's limits", () => {
    const parsed = parseHeadersFile(
      [
        "X-Early: 1",
        "/a/*/b/*",
        "  X-Skipped: yes",
        "/ok",
        "  no colon here",
        "  Bad Name: v",
        "/empty",
        `/long`,
        `  X-Long: ${"x".repeat(2001)}`,
      ].join("\n"),
    );
    assert.deepEqual(
      parsed.rules.map((rule) => rule.path),
      [],
    );
    assert.deepEqual(parsed.problems, [
      "line 1: X-Early: 1: a path must come before its headers",
      "line 2: /a/*/b/*: only one wildcard (or one :splat) is allowed per rule; use a named placeholder such as :name",
      'line 5: no colon here: expected "Name: value" or "! Name"',
      'line 6: Bad Name: v: expected "Name: value" with a name and a value',
      "line 7: /ok: no headers specified",
      "line 8: /empty: no headers specified",
      "line 9: longer than 2000 characters; ignored",
      "line 9: /long: no headers specified",
    ]);
    const many = Array.from({ length: 101 }, (_, i) => `/p${i}\n  X: ${i}`).join("\n");
    const limited = parseHeadersFile(many);
    assert.equal(limited.rules.length, 100);
    assert.match(limited.problems[0] ?? "", /more than 100 rules/);
  });
});

describe("_redirects", () => {
  const url = (path: string) => new URL(`https://example.com${path}`);

  it("matches static rules first, then dynamic ones in order, filling placeholders", () => {
    const parsed = parseRedirectsFile(
      [
        "/a/* /first/:splat",
        "/a/b /static 301",
        "/news/:year/:slug /n/:year-:slug 308",
        "/x https://other.example/x?y=1#h",
        "# comment",
        "/trailing /t # inline comment",
      ].join("\n"),
      true,
    );
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(findRedirect(parsed, url("/a/b")), { to: "/static", status: 301 });
    assert.deepEqual(findRedirect(parsed, url("/a/c/d")), { to: "/first/c/d", status: 302 });
    assert.deepEqual(findRedirect(parsed, url("/news/2025/hi")), { to: "/n/2025-hi", status: 308 });
    assert.deepEqual(findRedirect(parsed, url("/x")), {
      to: "https://other.example/x?y=1#h",
      status: 302,
    });
    assert.deepEqual(findRedirect(parsed, url("/trailing")), { to: "/t", status: 302 });
    assert.equal(findRedirect(parsed, url("/none")), undefined);
  });

  it("skips loops, duplicates, bad statuses and off-site rewrites", () => {
    const parsed = parseRedirectsFile(
      [
        "/* /index.html",
        "/ /index",
        "/d /e",
        "/d /f",
        "/s /t 404",
        "/p https://else.example/ 200",
        "https://example.com/abs /b",
        "/one",
      ].join("\n"),
      true,
    );
    assert.equal(parsed.exact.size + parsed.dynamic.length, 1);
    assert.equal(parsed.problems.length, 7);
    assert.match(parsed.problems[0]!, /^line 1: .*redirect forever/);
    assert.match(parsed.problems[1]!, /^line 2: .*redirect forever/);
    assert.equal(parsed.problems[2], "line 4: a second rule for /d; ignored");
    assert.equal(
      parsed.problems[3],
      "line 5: valid status codes are 200, 301, 302 (default), 303, 307, or 308, not 404",
    );
    assert.match(parsed.problems[4]!, /a 200 \(rewrite\) rule can only point to a path/);
    assert.match(parsed.problems[5]!, /only relative paths can be redirected from/);
    assert.equal(parsed.problems[6], 'line 8: expected "from to [status]", got 1 tokens');
    // With html_handling "none", "/ /index" does not loop.
    assert.deepEqual(parseRedirectsFile("/ /index", false).problems, []);
  });

  it("counts 2,000 static rules, and 100 dynamic ones", () => {
    const statics = Array.from({ length: 2001 }, (_, i) => `/s${i} /t`).join("\n");
    const parsed = parseRedirectsFile(statics, true);
    assert.equal(parsed.exact.size, 2000);
    assert.deepEqual(parsed.problems, ["line 2001: more than 2000 static rules; ignored"]);
    const dynamics = Array.from({ length: 102 }, (_, i) => `/d${i}/* /t`).join("\n");
    const dynamic = parseRedirectsFile(dynamics, true);
    assert.equal(dynamic.dynamic.length, 100);
    assert.match(dynamic.problems[0]!, /^line 101: more than 100 dynamic rules/);
  });
});

describe("rule patterns", () => {
  it("matches hosts by label and paths by segment", () => {
    const host = compileRulePattern("https://:sub.example.com/*");
    assert.deepEqual(matchRule(host, new URL("https://a.example.com/x/y")), {
      sub: "a",
      splat: "x/y",
    });
    assert.equal(matchRule(host, new URL("https://a.b.example.com/x")), undefined);
    const path = compileRulePattern("/files/:name.txt");
    assert.deepEqual(matchRule(path, new URL("https://h/files/a.txt")), { name: "a" });
    assert.equal(matchRule(path, new URL("https://h/files/a/b.txt")), undefined);
  });

  it("treats run_worker_first patterns as globs on the path only", () => {
    const route = compileRoutePattern("/api/*");
    assert.equal(route.test("/api/x/y"), true);
    assert.equal(route.test("/api"), false);
    assert.equal(compileRoutePattern("/a.b").test("/axb"), false);
  });
});
