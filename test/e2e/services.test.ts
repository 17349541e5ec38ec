import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeFiles } from "../support/app-files.ts";
import { startStead } from "../support/stead-process.ts";
import { testStore } from "../support/storage.ts";
import { tempDataDir } from "../support/temp-dir.ts";

const WORKER = new URL("../fixtures/services-worker.ts", import.meta.url).pathname;

describe("service bindings through stead start", () => {
  it("calls the Worker's own entrypoint over RPC and fetch, with its props", async () => {
    using store = testStore();
    using dir = tempDataDir("stead-services-app-");
    writeFiles(dir.path, {
      "wrangler.jsonc": `{ "name": "greeter-app", "main": "${WORKER}", "compatibility_date": "2026-01-01",
        "services": [
          { "binding": "GREETER", "service": "greeter-app", "entrypoint": "Greeter", "props": { "greeting": "Bonjour" } },
          { "binding": "HANDLERS", "service": "greeter-app", "entrypoint": "handlers" }
        ] }`,
    });
    await using stead = await startStead("start", [dir.path, "--host", "127.0.0.1"], { store });
    assert.equal(await (await fetch(`${stead.url}/greet`)).text(), "Bonjour, worker");
    const forwarded = await fetch(`${stead.url}/forward`, { method: "POST", body: "hi" });
    assert.deepEqual(await forwarded.json(), {
      url: `${stead.url}/forward`,
      body: "hi",
      props: { greeting: "Bonjour" },
    });
    assert.equal(await (await fetch(`${stead.url}/handlers`)).text(), "handlers saw /h");
  });
});
