import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, it } from "node:test";
import { LIMIT, NEEDS_FLUSH_HOOKS, startWithFlushes } from "../support/durability-harness.ts";
import { isPending } from "../support/event-loop.ts";
import { waitFor } from "../support/wait-for.ts";

/** A local HTTP server that records when each request arrives. */
async function recordingServer() {
  const arrivals: string[] = [];
  const server = createServer((request, response) => {
    arrivals.push(request.url ?? "");
    response.end("answered");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    async [Symbol.asyncDispose]() {
      server.close();
      await once(server, "close");
    },
  };
}

describe("outgoing fetch from an object", NEEDS_FLUSH_HOOKS, () => {
  it("leaves only after the writes made before it are durable", LIMIT, async () => {
    await using remote = await recordingServer();
    await using t = await startWithFlushes({
      main: new URL("../fixtures/fetch-worker.ts", import.meta.url),
      durableObjects: { CALLER: "Caller" },
    });
    const stub = t.env.CALLER.getByName("c");
    const id = stub.id.toString();
    t.flushes.hold(id);
    const call = stub.writeThenFetch(`${remote.url}/after-write`);
    await t.flushes.started(id, 1);
    assert.ok(await isPending(call));
    assert.deepEqual(remote.arrivals, [], "the request waits for the flush");
    t.flushes.release(id);
    assert.equal(await call, "answered");
    assert.deepEqual(remote.arrivals, ["/after-write"]);
  });

  it("is not held when nothing was written", LIMIT, async () => {
    await using remote = await recordingServer();
    await using t = await startWithFlushes({
      main: new URL("../fixtures/fetch-worker.ts", import.meta.url),
      durableObjects: { CALLER: "Caller" },
    });
    const stub = t.env.CALLER.getByName("reader");
    t.flushes.hold(stub.id.toString());
    assert.equal(await stub.fetchOnly(`${remote.url}/plain`), "answered");
    await waitFor(() => remote.arrivals.length === 1, "the request");
  });
});
