import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createRuntime } from "./create-runtime.ts";

describe("entry module loading", () => {
  it("compiles full TypeScript and resolves bundler-style imports", async () => {
    await using rt = await createRuntime({
      main: new URL("../../test/fixtures/full-ts/worker.ts", import.meta.url),
      durableObjects: { ROOM: "Room" },
    });
    const response = await rt.fetch("http://localhost/");
    assert.equal(await response.text(), "hello stead mood:Calm");
  });

  it("reports a module that does not exist, naming it", async () => {
    await assert.rejects(
      createRuntime({ main: "/nonexistent/worker.ts" }),
      (error: Error & { code?: string }) =>
        error.code === "MODULE_LOAD_FAILED" && error.message.includes("/nonexistent/worker.ts"),
    );
  });
});
