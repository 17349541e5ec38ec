// Errors an app lets escape outside any event (a throw in a timer, a rejection nobody handles,
// ctx.abort() from a timer) are logged as workerd logs them, with their object, and nothing
// else stops: not the server, not the object thread, not the other objects on it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { WebSocket } from "ws";
import { startStead } from "../support/stead-process.ts";
import { skipUnless, testStore } from "../support/storage.ts";
import { eventually } from "../support/wait-for.ts";

const APP = fileURLToPath(new URL("../fixtures/apps/stray-errors-app/", import.meta.url));

async function text(url: string): Promise<string> {
  return (await fetch(url)).text();
}

describe("stray errors under stead start", () => {
  for (const threads of ["0", "1"]) {
    const skip = threads !== "0" && skipUnless("threads", "runs objects on object threads");
    it(`are logged with their object and stop nothing (--threads ${threads})`, {
      skip,
    }, async () => {
      using store = testStore();
      await using stead = await startStead("start", [APP, "--threads", threads], { store });
      // A socket held by another object (on the same thread when there is one).
      const socket = new WebSocket(`${stead.url.replace(/^http/, "ws")}/bystander`);
      await new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      });
      const closes: number[] = [];
      socket.on("close", (code) => closes.push(code));

      assert.equal(await text(`${stead.url}/worker-throw`), "ok");
      assert.equal(await text(`${stead.url}/a?do=throw`), "1");
      assert.equal(await text(`${stead.url}/a?do=reject`), "2");
      const appErrors = () =>
        stead
          .stderr()
          .split("\n")
          .filter((line) => line.includes('"source":"app"'))
          .map((line) => JSON.parse(line) as Record<string, any>);
      await eventually("the three errors are logged", () =>
        appErrors().length >= 3 ? true : undefined,
      );
      // Object a went on: its count was kept.
      assert.equal(await text(`${stead.url}/a`), "3");
      // ctx.abort() from a timer resets that object only.
      assert.equal(await text(`${stead.url}/b?do=abort`), "1");
      await eventually("the abort is logged", () =>
        appErrors().some((entry) => String(entry.msg).includes("destroyed")) ? true : undefined,
      );
      assert.equal(await text(`${stead.url}/b`), "1", "b was reset");
      assert.equal(await text(`${stead.url}/a`), "4", "a was not");

      // Sorted: a timer's error and the next request's rejection may come in either order.
      const logged = appErrors()
        .map(({ level, msg, object }) => ({
          level,
          first: String(msg).split("\n")[0] ?? "",
          object: object?.name,
        }))
        .sort((a, b) => a.first.localeCompare(b.first));
      assert.deepEqual(logged, [
        {
          level: "error",
          first: "Uncaught (in promise) TypeError: rejected in an object, unhandled",
          object: "a",
        },
        { level: "error", first: "Uncaught Error: thrown in an object's timer", object: "a" },
        {
          level: "error",
          first: "Uncaught Error: thrown in the Worker's timer",
          object: undefined,
        },
        { level: "error", first: "Uncaught SteadError: destroyed", object: "b" },
      ]);
      // The bystander's socket is still open and answered.
      socket.send("hi");
      const [reply] = await new Promise<[Buffer]>((resolve) =>
        socket.once("message", (...args) => resolve(args as unknown as [Buffer])),
      );
      assert.equal(String(reply), "echo hi");
      assert.deepEqual(closes, []);
      socket.close();
      assert.doesNotMatch(stead.stderr(), /stopped unexpectedly|Stead stopped/);
      assert.deepEqual(await stead.stop("SIGTERM"), { code: 0, signal: null });
    });
  }
});
