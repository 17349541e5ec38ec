// The Workers globals and the cloudflare:* modules, through createRuntime and a real server.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { createRuntime, SteadError } from "../../src/index.ts";
import { handleWebSocketUpgrade, serve } from "../../src/server/index.ts";
import { storageOptions } from "../support/storage.ts";

const PLAIN = new URL("../fixtures/plain-module-worker.js", import.meta.url);
const EXPORTS = new URL("../fixtures/exports-worker.ts", import.meta.url);

/** A runtime on the exports fixture, on a fresh store. */
function exportsRuntime(greeting = "Hello", main: URL | Record<string, unknown> = EXPORTS) {
  return createRuntime({
    main,
    ...storageOptions(),
    vars: { GREETING: greeting },
    durableObjects: { COUNTER: "Counter" },
    migrations: [{ tag: "v1", new_sqlite_classes: ["Counter", "Unbound"] }],
  });
}

describe("Workers globals", () => {
  it("gives a module Worker with no imports WebSocketPair, the Workers WebSocket and navigator", async () => {
    await using rt = await createRuntime({ main: PLAIN, ...storageOptions() });
    const globals = await (await rt.fetch("http://x/globals")).json();
    assert.deepEqual(globals, {
      userAgent: "Cloudflare-Workers",
      hardwareConcurrency: 1,
      readyStateOpen: 1,
      hasPrototypeMethods: true,
    });
    await using server = await serve(rt, {
      port: 0,
      upgrade: (request, socket, head, closing) =>
        handleWebSocketUpgrade(rt, request, socket, head, { closing }),
    });
    const client = new WebSocket(`${server.address.url.replace("http", "ws")}/pair`);
    const reply = new Promise<string>((resolve) => client.once("message", (d) => resolve(`${d}`)));
    client.once("open", () => client.send("hi"));
    assert.equal(await reply, "echo: hi");
    client.close();
  });

  it("has scheduler, a never-hitting caches, the Workers byte streams and HTMLRewriter", async () => {
    await using rt = await createRuntime({ main: PLAIN, ...storageOptions() });
    assert.deepEqual(await (await rt.fetch("http://x/more-globals")).json(), {
      hit: "miss",
      named: true,
      identity: true,
      fixed: "abc",
      shortClose: "FixedLengthStream did not see all expected bytes before close().",
      rewriter: "function",
    });
  });

  it("runs a Worker's HTMLRewriter unchanged: async handlers, the document end, streamed", async () => {
    await using rt = await createRuntime({ main: PLAIN, ...storageOptions() });
    const res = await rt.fetch("http://x/rewrite");
    assert.equal(res.headers.get("content-type"), "text/html");
    assert.equal(
      await res.text(),
      '<html><body><a href="https://example.com/a">a</a></body></html><!-- rewritten -->',
    );
  });

  it("keeps Node's client WebSocket behind `new WebSocket(url)`", async () => {
    await using rt = await createRuntime({ main: PLAIN, ...storageOptions() });
    await using server = await serve(rt, {
      port: 0,
      upgrade: (request, socket, head, closing) =>
        handleWebSocketUpgrade(rt, request, socket, head, { closing }),
    });
    const client = new globalThis.WebSocket(`${server.address.url.replace("http", "ws")}/pair`);
    assert.ok(client instanceof globalThis.WebSocket);
    const reply = new Promise<string>((resolve) =>
      client.addEventListener("message", (event) => resolve(String(event.data))),
    );
    client.addEventListener("open", () => client.send("client"));
    assert.equal(await reply, "echo: client");
    client.close();
  });

  it("sets request.cf from the connection; X-Stead-Cf is honoured only when enabled", async () => {
    await using rt = await createRuntime({ main: PLAIN, ...storageOptions() });
    await using plain = await serve(rt, { port: 0 });
    const headers = { "accept-encoding": "br, gzip", "x-stead-cf": '{"country":"DE"}' };
    const cf = await (await fetch(`${plain.address.url}/cf`, { headers })).json();
    assert.equal(cf.httpProtocol, "HTTP/1.1");
    assert.equal(cf.clientAcceptEncoding, "br, gzip");
    assert.equal(cf.country, undefined);
    await using dev = await serve(rt, { port: 0, cfOverrideHeader: true });
    const overridden = await (await fetch(`${dev.address.url}/cf`, { headers })).json();
    assert.equal(overridden.country, "DE");
    assert.equal(overridden.httpProtocol, "HTTP/1.1");
    // A FixedLengthStream's body leaves with its declared length, not chunked.
    const fixed = await fetch(`${plain.address.url}/fixed-length`);
    assert.equal(fixed.headers.get("content-length"), "6");
    assert.equal(fixed.headers.get("transfer-encoding"), null);
    assert.equal(await fixed.text(), "abcdef");
    const bad = await fetch(`${dev.address.url}/cf`, { headers: { "x-stead-cf": "DE" } });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /x-stead-cf header must be a JSON object/);
  });
});

describe("cloudflare:workers", () => {
  it("serves env at import time and per runtime, even with two runtimes in one process", async () => {
    await using first = await exportsRuntime("Hello");
    await using second = await exportsRuntime("Hallo");
    // Namespaces are in env at the top level, usable once the module has loaded.
    const bindings = { counterAtLoad: true, useAtLoad: "BINDING_NOT_READY", counterNow: true };
    assert.deepEqual(await (await first.fetch("http://x/env")).json(), {
      atLoad: "Hello",
      now: "Hello",
      ...bindings,
    });
    // Each runtime builds and loads its own copy of the app, as each Worker has its own isolate.
    assert.deepEqual(await (await second.fetch("http://x/env")).json(), {
      atLoad: "Hallo",
      now: "Hallo",
      ...bindings,
    });
  });

  it("gives ctx.exports to the Worker and to objects, unbound classes included", async () => {
    await using rt = await exportsRuntime();
    const body = await (await rt.fetch("http://x/exports")).json();
    assert.deepEqual(body, {
      greeter: "Hello, worker!",
      viaFetch: "greeter saw /hi",
      fromObject: {
        unbound: "unbound u 1",
        greeter: "Hello, object!",
        sameAsModule: true,
        envInObject: "Hello",
        withEnvInObject: "Hej",
      },
      keys: ["Counter", "Greeter", "Unbound", "default", "named"],
      named: "named handler",
    });
    assert.deepEqual(await (await rt.fetch("http://x/with-env")).json(), ["Hi", "hidden", "Hello"]);
  });

  it("reaches a class that the config's declarative exports gives storage, with no binding", async () => {
    await using rt = await createRuntime({
      main: EXPORTS,
      ...storageOptions(),
      vars: { GREETING: "Hello" },
      durableObjects: { COUNTER: "Counter" },
      objectClasses: { Unbound: "sqlite" },
    });
    const body = await (await rt.fetch("http://x/exports")).json();
    assert.equal(body.fromObject.unbound, "unbound u 1");
    assert.ok(body.keys.includes("Unbound"));
  });

  it("waitUntil extends the request: dispose waits for it", async () => {
    // The module itself as main, so this test reads the same module state the Worker writes.
    const worker = await import("../fixtures/exports-worker.ts");
    const rt = await exportsRuntime("Hello", worker);
    const { waited } = worker;
    waited.length = 0;
    assert.equal(await (await rt.fetch("http://x/wait-until")).text(), "ok");
    await rt.dispose();
    assert.deepEqual(waited, ["done"]);
  });
});

describe("cloudflare:* modules Stead does not implement", () => {
  it("loads an app importing cloudflare:email at top level; using it throws API_UNSUPPORTED", async () => {
    await using rt = await exportsRuntime();
    const body = await (await rt.fetch("http://x/email")).json();
    assert.equal(body.code, "API_UNSUPPORTED");
    assert.match(body.message, /EmailMessage from "cloudflare:email" is not supported/);
    assert.match(body.message, /docs\/compatibility\.md/);
  });

  it("names an unknown cloudflare: specifier and the supported ones", async () => {
    await assert.rejects(
      createRuntime({
        main: new URL("../fixtures/unknown-cloudflare-module-worker.js", import.meta.url),
      }),
      (error: unknown) => {
        assert.ok(error instanceof SteadError);
        assert.match(error.message, /Cannot find module "cloudflare:nonexistent"/);
        assert.match(error.message, /cloudflare:workers, cloudflare:sockets, cloudflare:email/);
        return true;
      },
    );
  });

  it("resolves every other cloudflare: module workerd has", async () => {
    for (const specifier of [
      "cloudflare:workflows",
      "cloudflare:ai",
      "cloudflare:vectorize",
      "cloudflare:pipelines",
      "cloudflare:node",
    ]) {
      const module = await import(specifier);
      assert.ok(Object.keys(module).length > 0, specifier);
    }
    const { Ai } = await import("cloudflare:ai");
    assert.throws(() => new Ai(), { code: "API_UNSUPPORTED" });
  });
});
