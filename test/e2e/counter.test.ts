import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { copyTemplate, TEMPLATES } from "../support/apps.ts";
import { okJson } from "../support/fetch.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";
import { eventually } from "../support/wait-for.ts";

const COUNTER = join(TEMPLATES, "counter");
const HOST = ["--host", "127.0.0.1"];

function post(base: string, path: string): Promise<unknown> {
  return okJson(`${base}${path}`, { method: "POST" });
}

describe("templates/counter under stead start", () => {
  it("counts over HTTP and keeps the count across a restart on the same data dir", async () => {
    using store = testStore();
    {
      await using stead = await startStead("start", [COUNTER, ...HOST], { store });
      assert.deepEqual(await post(stead.url, "/apples"), { name: "apples", value: 1 });
      assert.deepEqual(await post(stead.url, "/apples"), { name: "apples", value: 2 });
      assert.deepEqual(await post(stead.url, "/pears"), { name: "pears", value: 1 });
      const concurrent = await Promise.all(
        Array.from({ length: 20 }, () => post(stead.url, "/apples")),
      );
      const values = concurrent
        .map((body) => (body as { value: number }).value)
        .sort((a, b) => a - b);
      assert.deepEqual(
        values,
        Array.from({ length: 20 }, (_, i) => i + 3),
      );
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    }
    await using again = await startStead("start", [COUNTER, ...HOST], { store });
    const response = await fetch(`${again.url}/apples`);
    assert.deepEqual(await response.json(), { name: "apples", value: 22 });
    assert.deepEqual(await (await fetch(`${again.url}/pears`)).json(), { name: "pears", value: 1 });
  });

  it("logs one JSON line per request and exits 0 on SIGTERM", async () => {
    using store = testStore();
    await using stead = await startStead("start", [COUNTER, ...HOST], { store });
    await post(stead.url, "/a");
    await post(stead.url, "/a");
    assert.equal((await fetch(`${stead.url}/a?x=1`)).status, 200);
    assert.equal((await fetch(`${stead.url}/b`, { method: "HEAD" })).status, 200);

    assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    assert.equal(stead.stderr(), "");
    const requests = stead.logs.filter((record) => record.msg === "request");
    assert.deepEqual(
      requests.map(({ method, path, status }) => ({ method, path, status })),
      [
        { method: "POST", path: "/a", status: 200 },
        { method: "POST", path: "/a", status: 200 },
        { method: "GET", path: "/a?x=1", status: 200 },
        { method: "HEAD", path: "/b", status: 200 },
      ],
    );
    for (const record of requests) {
      assert.equal(typeof record.durationMs, "number");
      assert.ok((record.durationMs as number) >= 0, `durationMs ${record.durationMs}`);
      assert.ok(!Number.isNaN(Date.parse(record.time as string)), `time ${record.time}`);
      assert.equal(record.level, "info");
    }
    // Every stdout line is one JSON object: nothing else is mixed in.
    assert.deepEqual(
      stead.logs.filter((record) => "line" in record),
      [],
    );
    const messages = stead.logs.map((record) => record.msg);
    assert.ok(messages.includes("Shutting down (SIGTERM)"), JSON.stringify(messages));
    assert.equal(messages.at(-1), "Stopped");
  });

  it("lets a request that is in flight at SIGTERM finish, refusing new connections meanwhile", async () => {
    using store = testStore();
    using work = tempDataDir();
    // The counter app plus a route that echoes its request body as it streams in, so a test can
    // hold one request open across the signal. The example itself is imported unchanged.
    const app = await copyTemplate("counter", work.path, {
      file: "wrangler.jsonc",
      replace: ['"main": "src/index.ts"', '"main": "src/with-echo.ts"'],
    });
    const example = pathToFileURL(join(COUNTER, "src", "index.ts")).href;
    await writeFile(
      join(app, "src", "with-echo.ts"),
      `import counter, { Counter } from ${JSON.stringify(example)};
export { Counter };
export default {
  async fetch(request: Request, env: any, ctx: any): Promise<Response> {
    if (new URL(request.url).pathname === "/__echo") return new Response(request.body);
    return counter.fetch(request, env, ctx);
  },
};
`,
    );
    await using stead = await startStead("start", [app, ...HOST], { store });
    assert.deepEqual(await post(stead.url, "/x"), { name: "x", value: 1 });

    const upload = httpRequest(`${stead.url}/__echo`, { method: "POST", agent: false });
    upload.write("first half, ");
    const [response] = (await once(upload, "response")) as [IncomingMessage];
    assert.equal(response.statusCode, 200);
    response.setEncoding("utf8");
    let echoed = "";
    response.on("data", (chunk: string) => {
      echoed += chunk;
    });
    await eventually("the first half echoed", () => (echoed === "first half, " ? true : undefined));

    const exited = stead.stop("SIGTERM");
    await eventually("the server to start shutting down", () =>
      stead.logs.some((record) => record.msg === "Shutting down (SIGTERM)") ? true : undefined,
    );
    await assert.rejects(fetch(`${stead.url}/x`, { method: "POST" }), TypeError);

    upload.end("second half");
    await once(response, "end");
    assert.equal(echoed, "first half, second half");
    assert.deepEqual(await exited, { code: 0, signal: null });
    const echo = stead.logs.find((record) => record.msg === "request" && record.path === "/__echo");
    assert.equal(echo?.status, 200);
    assert.equal(echo?.bytes, "first half, second half".length);
    assert.equal(
      stead.logs.filter((record) => record.msg === "request" && record.path === "/x").length,
      1,
      "the refused request never reached the app",
    );
  });
});
