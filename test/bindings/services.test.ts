import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime } from "stead";
import { writeFiles } from "../support/app-files.ts";
import { skipUnless, storageOptions, testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/services-worker.ts", import.meta.url);
const SERVICES = [
  { binding: "GREETER", entrypoint: "Greeter", props: { greeting: "Hello", tenant: "acme" } },
  { binding: "PLAIN", entrypoint: "Greeter", props: { greeting: "Hi" } },
  { binding: "HANDLERS", entrypoint: "handlers" },
];

describe("service bindings to the Worker's own entrypoints (services)", () => {
  it("calls RPC methods with ctx.props, a fresh copy for every call", async () => {
    await using rt = await createRuntime({ main: WORKER, services: SERVICES, ...storageOptions() });
    assert.equal(await rt.env.GREETER.greet("Ada"), "Hello, Ada");
    assert.equal(await rt.env.PLAIN.greet("Ada"), "Hi, Ada");
    assert.equal(await rt.env.GREETER.tenant, "acme");
    assert.equal(await rt.env.PLAIN.tenant, null);
    assert.deepEqual(await rt.env.GREETER.spoil(), { greeting: "spoiled", tenant: "acme" });
    assert.equal(await rt.env.GREETER.greet("Ada"), "Hello, Ada");
    await assert.rejects(rt.env.GREETER.fail(), (error: Error & { remote?: boolean }) => {
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, "greeter failed on purpose");
      assert.equal(error.remote, true);
      return true;
    });
    await assert.rejects(rt.env.GREETER.missing(), {
      name: "TypeError",
      message: 'The RPC receiver does not implement the method "missing".',
    });
    assert.equal(await (await rt.fetch("http://app/greet")).text(), "Hello, worker");
  });

  it("forwards fetch to the entrypoint, and to an object of handlers", async () => {
    await using rt = await createRuntime({ main: WORKER, services: SERVICES, ...storageOptions() });
    const forwarded = await rt.fetch("http://app/forward", { method: "POST", body: "payload" });
    assert.deepEqual(await forwarded.json(), {
      url: "http://app/forward",
      body: "payload",
      props: { greeting: "Hello", tenant: "acme" },
    });
    assert.equal(await (await rt.fetch("http://app/handlers")).text(), "handlers saw /h");
    assert.equal(
      await (await rt.env.HANDLERS.fetch("http://x/direct")).text(),
      "handlers saw /direct",
    );
  });

  it("works from Durable Objects, on this thread and on object threads", {
    skip: skipUnless("threads", "runs objects on object threads"),
  }, async () => {
    for (const threads of [0, 2]) {
      using store = testStore();
      await using rt = await createRuntime({
        main: WORKER,
        services: SERVICES,
        durableObjects: { DESK: "Desk" },
        threads,
        ...store.options,
      });
      const answers = await Promise.all(
        ["a", "b", "c"].map((name) => rt.env.DESK.getByName(name).ask(name)),
      );
      assert.deepEqual(answers, ["Hello, a", "Hello, b", "Hello, c"]);
    }
  });

  it("refuses an entrypoint the module does not export, naming the exports", async () => {
    await assert.rejects(
      createRuntime({
        main: WORKER,
        services: [{ binding: "NOPE", entrypoint: "Nope" }],
        ...storageOptions(),
      }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "INVALID_CONFIG");
        assert.match(
          error.message,
          /services\[0\] \(NOPE\): the entry module has no entrypoint "Nope"/,
        );
        assert.match(error.message, /Entrypoints it exports: Greeter, default, handlers/);
        return true;
      },
    );
    await assert.rejects(
      createRuntime({ main: WORKER, services: [{ binding: "x y" }], ...storageOptions() }),
      /services\.0\.binding: must be a JavaScript identifier/,
    );
  });

  it("reads services from the wrangler config; another Worker's service stops startup", async () => {
    using dir = tempDataDir("stead-services-");
    writeFiles(dir.path, {
      "wrangler.jsonc": `{ "name": "app", "main": "${WORKER.pathname}", "compatibility_date": "2026-01-01",
        "services": [{ "binding": "GREETER", "service": "app", "entrypoint": "Greeter", "props": { "greeting": "Hey" } }] }`,
    });
    await using rt = await createRuntime({ config: dir.path, ...storageOptions() });
    assert.equal(await rt.env.GREETER.greet("config"), "Hey, config");

    using other = tempDataDir("stead-services-other-");
    writeFiles(other.path, {
      "wrangler.jsonc": `{ "name": "app", "main": "${WORKER.pathname}",
        "services": [{ "binding": "AUTH", "service": "auth-worker" }] }`,
    });
    await assert.rejects(
      createRuntime({ config: other.path, ...storageOptions() }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "CONFIG_UNSUPPORTED");
        assert.match(
          error.message,
          /services\[0\] \(AUTH\): service "auth-worker" names another Worker than this one \("app"\)/,
        );
        return true;
      },
    );
  });
});
