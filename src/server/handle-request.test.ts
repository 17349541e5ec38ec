import assert from "node:assert/strict";
import http from "node:http";
import { describe, it } from "node:test";
import { httpWorker, request, startHttp } from "../../test/support/http-harness.ts";
import { waitFor } from "../../test/support/wait-for.ts";

describe("one request", () => {
  it("aborts request.signal when the client disconnects before the response", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const started = worker.probe.started.length;
    const aborted = worker.probe.aborted.length;
    const req = http.get(`${h.url}/wait-for-abort`);
    req.on("error", () => {});
    await waitFor(() => worker.probe.started.length > started, "the Worker to start");
    req.destroy();
    await waitFor(() => worker.probe.aborted.length > aborted, "the Worker to see the abort");
    assert.deepEqual(worker.probe.aborted.at(-1), {
      path: "/wait-for-abort",
      reason: "The client disconnected before the response was complete.",
    });
    const record = await h.record("/wait-for-abort");
    assert.equal(record.status, 499);
    assert.equal(record.aborted, true);
  });

  it("aborts request.signal when the client disconnects during a streamed response", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const aborted = worker.probe.aborted.length;
    const res = await new Promise<http.IncomingMessage>((resolve) =>
      http.get(`${h.url}/slow-stream`, resolve),
    );
    await new Promise((resolve) => res.once("data", resolve));
    res.destroy();
    await waitFor(() => worker.probe.aborted.length > aborted, "the Worker to see the abort");
    assert.equal(worker.probe.aborted.at(-1)?.path, "/slow-stream");
    const record = await h.record("/slow-stream");
    assert.equal(record.status, 200);
    assert.equal(record.aborted, true);
    worker.release();
  });

  it("aborts the signal of request.clone() and of fetch(request) when the client disconnects", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const aborted = worker.probe.aborted.length;
    for (const path of ["/clone-wait-for-abort", "/forward-to-self"]) {
      const started = worker.probe.started.length;
      const req = http.get(`${h.url}${path}`);
      req.on("error", () => {});
      // The forwarded request arrives as a second one.
      const requests = path === "/forward-to-self" ? 2 : 1;
      await waitFor(() => worker.probe.started.length >= started + requests, "the Worker to start");
      req.destroy();
    }
    await waitFor(() => worker.probe.aborted.length >= aborted + 4, "the Worker to see the aborts");
    const seen = worker.probe.aborted.slice(aborted).map((a) => a.path);
    assert.deepEqual(seen.filter((p) => p === "clone").length, 1, "the clone's signal");
    assert.equal(
      seen.filter((p) => p === "/forward-to-self").length,
      2,
      "the forwarded request's own client (the outgoing fetch) went away too",
    );
  });

  it("does not abort request.signal of a request that completed", async () => {
    const worker = await httpWorker();
    await using h = await startHttp();
    const aborted = worker.probe.aborted.length;
    await request(`${h.url}/status`);
    await h.record("/status");
    assert.equal(worker.probe.aborted.length, aborted);
  });
});
