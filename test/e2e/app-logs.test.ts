// What an app writes through console becomes stead start's own JSON log lines: level, text, and
// the object that wrote it, from the main thread and from object threads alike.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startStead } from "../support/stead-process.ts";
import { skipUnless, testStore } from "../support/storage.ts";

const APP = fileURLToPath(new URL("../fixtures/apps/console-app/", import.meta.url));

describe("an app's console under stead start", () => {
  for (const threads of ["0", "2"]) {
    const skip = threads !== "0" && skipUnless("threads", "runs objects on object threads");
    it(`becomes JSON log lines with the level and the object (--threads ${threads})`, {
      skip,
    }, async () => {
      using store = testStore();
      await using stead = await startStead(
        "start",
        [APP, "--host", "127.0.0.1", "--threads", threads],
        { store },
      );
      assert.equal(await (await fetch(`${stead.url}/a`)).text(), "1");
      assert.equal(await (await fetch(`${stead.url}/a`)).text(), "2");
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });

      const app = stead.logs.filter((record) => record.source === "app");
      const pick = ({ level, msg, object }: Record<string, any>) => ({
        level,
        msg,
        object:
          object === undefined ? undefined : { className: object.className, name: object.name },
      });
      assert.deepEqual(app.map(pick), [
        { level: "info", msg: "worker saw /a", object: undefined },
        {
          level: "info",
          msg: "counted 1 { by: 'object' }",
          object: { className: "Counter", name: "a" },
        },
        { level: "info", msg: "worker saw /a", object: undefined },
        {
          level: "info",
          msg: "counted 2 { by: 'object' }",
          object: { className: "Counter", name: "a" },
        },
      ]);
      assert.match(String((app[1]?.object as { id?: string } | undefined)?.id), /^[0-9a-f]{64}$/);
      // The Worker's lines carry the id of the request they served, as its request line does.
      const requests = stead.logs.filter((record) => record.msg === "request");
      assert.equal(requests.length, 2);
      assert.deepEqual(
        [app[0]?.requestId, app[2]?.requestId],
        requests.map((record) => record.requestId),
      );
      assert.notEqual(requests[0]?.requestId, requests[1]?.requestId);
      // Errors go to stderr, as JSON too.
      const errors = stead
        .stderr()
        .split("\n")
        .filter((line) => line.includes('"source":"app"'))
        .map((line) => JSON.parse(line));
      assert.deepEqual(
        errors.map(({ level, msg }) => ({ level, msg })),
        [{ level: "error", msg: "counted more than once: 2" }],
      );
    });
  }
});
